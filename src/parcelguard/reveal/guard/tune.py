"""Quotas proposed from a history: ``parcelguard guard tune``, pure.

Why from a history and per peer group: a quota is a guess about honest work, and the best
witness of honest work is the peers' own record. The defaults in :mod:`config` are floors a
carrier's ordinary day stays under; a carrier whose couriers really do reveal more (a dense
city district, a holiday peak) would see those floors step up honest work every day. So
``tune`` replays a history (simulated, or the carrier's own export in the exchange format)
through the guard's own windows and proposes, per peer group and window, the smallest quota
that would have stepped up at most a stated share of the group's reveals.

What counts, and why it matches the guard: the guard counts a ``sensitive`` event when it
hands out a plaintext value or a virtual number. The exchange format does not say which of
the two a reveal got, and both count, so every ``reveal`` or ``export`` row of a recipient
field (name, phone, address) that was allowed counts once; so does one refused with
``guard_step_up_refused``, since the guard counts a request before it asks for the step-up
(a history recorded under the guard would otherwise look quieter than the guard saw it).
One row is one value handed out: the format keeps one field per row.

Windows are the guard's, exact to the minute: an event at second ``t`` sees the actor's
events up to and including itself whose one-minute bucket started after ``t - N``
(:mod:`counters`). Every reveal is judged on its own count, as the guard judges it.

Honesty rules the numbers keep:

* accounts the ground truth (``labels``, written by the simulator) names as insiders are
  left out of the learning and of the "legitimate" figures, whole: an insider's quiet days
  are not evidence of honest work either;
* a group with too few accounts or reveals to show its own tail is not learned: it keeps
  its role's quota (a ``role@site_kind`` group) or the role's floor (a role), and says so;
* a quota never goes under its role's floor (``GuardConfig`` would refuse it anyway);
* the figure a proposal claims is in-sample; :func:`check` applies a configuration to
  another history, which is the figure to believe (tune on one seed, check on another).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from parcelguard.core.errors import BadInput
from parcelguard.reveal.guard.config import DEFAULT_QUOTAS, FALLBACK_QUOTA, GuardConfig, Triple
from parcelguard.reveal.guard.counters import BUCKET_SECONDS, DEFAULT_WINDOWS
from parcelguard.reveal.guard.judge import WINDOW_NAMES

I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

REVEAL_ACTIONS = ("reveal", "export")
REVEAL_FIELDS = ("name", "phone", "address")
COUNTED_DENIALS = ("guard_step_up_refused",)
"""Refusals the guard had already counted as sensitive when it gave them."""

TABLES_NEEDED = ("employees", "sites", "accesses")
DEFAULT_TARGET_SHARE = 0.005
MAX_TARGET_SHARE = 0.5
MIN_ACCOUNTS = 5
"""Fewer accounts than this and the group's tail is one or two people's habits."""
MIN_TAIL = 10
"""A group is learned only when the target share of its reveals is at least this many
reveals: the quota is then the 11th-largest count or beyond, not the group's single peak."""


@dataclass(frozen=True, slots=True)
class History:
    """The counted reveals of a history, sorted by account then time, and who the accounts are.

    Per account (index into ``employee_ids``): role, site kind ("" when its site is unknown)
    and whether the ground truth names it an insider. Per reveal: account, time in POSIX
    microseconds, and whether it falls inside one of its account's labelled episodes.
    """

    employee_ids: tuple[str, ...]
    roles: tuple[str, ...]
    site_kinds: tuple[str, ...]
    insider: Bools
    actor: I64
    micros: I64
    malicious: Bools
    labelled: bool
    """Whether the history had a ``labels`` table at all."""
    unknown_account_reveals: int
    """Counted reveals by accounts missing from ``employees``: dropped, and reported."""

    @property
    def reveals(self) -> int:
        return int(self.actor.size)


def check_target_share(share: float) -> float:
    """The share of legitimate reveals a proposal may step up; refused outside (0, 0.5]."""
    if not 0 < share <= MAX_TARGET_SHARE:  # also refuses NaN
        raise BadInput(
            f"--target-share {share}: give a share of reveals in (0, {MAX_TARGET_SHARE}], "
            "e.g. 0.005 for half a percent"
        )
    return share


def history_from_tables(tables: Mapping[str, pa.Table], source: str = "events") -> History:
    """The history in ``tables`` (as :func:`parcelguard.events.read_folder` returns them).

    ``labels`` is optional; the other three tables are required. ``source`` names the
    folder in errors.
    """
    missing = [name for name in TABLES_NEEDED if name not in tables]
    if missing:
        raise BadInput(f"{source}: no table {', '.join(missing)}")
    employees, sites, accesses = (tables[name] for name in TABLES_NEEDED)
    ids = employees["employee_id"]
    if pc.count_distinct(ids).as_py() != employees.num_rows:
        raise BadInput(f"{source}: employees.employee_id holds the same account twice")
    site_at = pc.index_in(employees["site_id"], value_set=sites["site_id"])
    kinds = pc.fill_null(pc.take(sites["kind"], site_at), "").to_pylist()

    counted = pc.and_(
        pc.and_(
            pc.is_in(accesses["action"], value_set=pa.array(REVEAL_ACTIONS)),
            pc.is_in(accesses["field"], value_set=pa.array(REVEAL_FIELDS)),
        ),
        pc.or_(
            pc.equal(accesses["decision"], "allow"),
            pc.is_in(accesses["reason"], value_set=pa.array(COUNTED_DENIALS)),
        ),
    )
    rows = accesses.select(["employee_id", "ts"]).filter(counted)
    at = pc.index_in(rows["employee_id"], value_set=ids)
    known = pc.is_valid(at)
    actor = _int64(pc.filter(at, known))
    micros = _int64(pc.filter(rows["ts"], known))
    order = np.lexsort((micros, actor))
    actor, micros = actor[order], micros[order]

    insider = np.zeros(employees.num_rows, dtype=np.bool_)
    malicious = np.zeros(actor.size, dtype=np.bool_)
    labels = tables.get("labels")
    if labels is not None and labels.num_rows:
        who = _int64(pc.fill_null(pc.index_in(labels["employee_id"], value_set=ids), -1))
        starts = _int64(labels["started_at"])
        ends = _int64(labels["ended_at"])
        for account, start, end in zip(who.tolist(), starts.tolist(), ends.tolist(), strict=True):
            if account < 0:
                continue  # a label for an account the history does not have: nothing to drop
            insider[account] = True
            lo, hi = np.searchsorted(actor, [account, account + 1])
            first = lo + np.searchsorted(micros[lo:hi], start, side="left")
            last = lo + np.searchsorted(micros[lo:hi], end, side="right")
            malicious[first:last] = True
    return History(
        employee_ids=tuple(str(v) for v in ids.to_pylist()),
        roles=tuple(str(v) for v in employees["role"].to_pylist()),
        site_kinds=tuple(str(v) for v in kinds),
        insider=insider,
        actor=actor,
        micros=micros,
        malicious=malicious,
        labelled=labels is not None,
        unknown_account_reveals=int(rows.num_rows - actor.size),
    )


def _int64(values: pa.Array | pa.ChunkedArray) -> I64:
    """Integers or timestamps (their POSIX microseconds) as one numpy array."""
    as_int = pc.cast(values, pa.int64())
    if isinstance(as_int, pa.ChunkedArray):
        as_int = as_int.combine_chunks()
    return np.asarray(as_int.to_numpy(zero_copy_only=False), dtype=np.int64)


def window_counts(history: History, windows: Sequence[int] = DEFAULT_WINDOWS) -> I64:
    """Per window (rows) and reveal (columns), the count the guard would have judged it on.

    Vectorised: reveals are sorted by (account, time), so one ``searchsorted`` per window
    finds, for every reveal, the account's first reveal whose bucket started after
    ``t - N``; the count is the distance to it, the reveal itself included.
    """
    n = history.reveals
    out = np.zeros((len(windows), n), dtype=np.int64)
    if n == 0:
        return out
    seconds = history.micros // 1_000_000
    bucket = seconds // BUCKET_SECONDS * BUCKET_SECONDS
    base = int(seconds.min()) - max(windows) - BUCKET_SECONDS  # every offset below is >= 0
    span = int(seconds.max()) - base + 1
    keys = history.actor * span + (bucket - base)
    position = np.arange(n, dtype=np.int64)
    for row, window in enumerate(windows):
        queries = history.actor * span + (seconds - window - base)
        first = np.searchsorted(keys, queries, side="right")
        out[row] = position - first + 1
    return out


# -- the proposal ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupProposal:
    """One peer group's proposed quota and what it rests on."""

    group: str  # "courier" or "courier@station"
    role: str
    site_kind: str  # "" for a role as a whole
    accounts: int
    reveals: int
    learned: bool
    """False: too small to learn from; ``quota`` is then its role's (or the floor)."""
    observed: Triple | None
    """The smallest quota meeting the target in each window, before the floor."""
    floor: Triple
    quota: Triple
    affected: tuple[float, float, float]
    """Share of the group's reveals over ``quota`` in each window."""
    affected_any: float
    """Share over ``quota`` in at least one window: what a step-up actually costs them."""

    def as_dict(self) -> dict[str, object]:
        return {
            "group": self.group,
            "role": self.role,
            "site_kind": self.site_kind,
            "accounts": self.accounts,
            "reveals": self.reveals,
            "learned": self.learned,
            "observed": list(self.observed) if self.observed else None,
            "floor": list(self.floor),
            "quota": list(self.quota),
            "affected": dict(zip(WINDOW_NAMES, self.affected, strict=True)),
            "affected_any": self.affected_any,
        }


@dataclass(frozen=True, slots=True)
class Proposal:
    target_share: float
    groups: tuple[GroupProposal, ...]
    accounts: int
    reveals: int
    insiders_excluded: int
    insider_reveals_excluded: int
    unknown_account_reveals: int
    min_accounts: int
    min_reveals: int

    @property
    def quotas(self) -> dict[str, Triple]:
        """What ``guard.toml`` gets: the learned groups only (the rest keep their fallback)."""
        return {g.group: g.quota for g in self.groups if g.learned}

    def config(self, base: GuardConfig | None = None) -> GuardConfig:
        """``base`` (default: the defaults) with the proposed quotas, checked like a file."""
        settings = {} if base is None else _settings_of(base)
        return GuardConfig.from_mapping(
            {"guard": settings, "quotas": {k: list(v) for k, v in self.quotas.items()}},
            "proposal",
        )

    def unfloored_config(self) -> GuardConfig:
        """The learned groups at their observed quotas, under the floors if need be.

        Not for use: :meth:`GuardConfig.load` would refuse it. It measures the estimate
        itself: applied to another history, its share over quota shows how well the tail
        learned on one history holds on the next, which the floors would hide.
        """
        learned = {g.group: g.observed for g in self.groups if g.learned and g.observed}
        return GuardConfig(quotas={**DEFAULT_QUOTAS, **learned})

    def as_dict(self) -> dict[str, object]:
        return {
            "target_share": self.target_share,
            "accounts": self.accounts,
            "reveals": self.reveals,
            "insiders_excluded": self.insiders_excluded,
            "insider_reveals_excluded": self.insider_reveals_excluded,
            "unknown_account_reveals": self.unknown_account_reveals,
            "min_accounts": self.min_accounts,
            "min_reveals": self.min_reveals,
            "groups": [g.as_dict() for g in self.groups],
            "quotas": {k: list(v) for k, v in self.quotas.items()},
        }

    def to_toml(self, guard_settings: Mapping[str, object] | None = None) -> str:
        """A ``guard.toml`` (for :meth:`GuardConfig.load`) with these quotas.

        ``guard_settings`` is a ``[guard]`` table to keep (the file being replaced had it).
        Comments carry each figure's basis: counts and shares only, no one's data.
        """
        lines = [
            "# Proposed by `parcelguard guard tune`: per peer group, the smallest quota of",
            "# sensitive reveals per [10 min, 1 hour, 1 day] that would have stepped up at most",
            f"# {self.target_share:g} of the group's legitimate reveals, never under the role's floor.",
            f"# Basis: {self.reveals} reveals of {self.accounts} accounts"
            + (
                f"; {self.insiders_excluded} labelled insiders left out."
                if self.insiders_excluded
                else "."
            ),
            "# Groups too small to learn from are left out and keep their role's quota:",
        ]
        lines += [
            f"#   {g.group}: {g.accounts} accounts, {g.reveals} reveals"
            for g in self.groups
            if not g.learned
        ] or ["#   (none)"]
        if guard_settings:
            lines += ["", "[guard]"]
            lines += [f"{name} = {_toml_scalar(v)}" for name, v in guard_settings.items()]
        lines += ["", "[quotas]"]
        for g in self.groups:
            if g.learned:
                lines.append(
                    f"# {g.accounts} accounts, {g.reveals} reveals; over it in any window: "
                    f"{g.affected_any:.4%}"
                )
                lines.append(f'"{g.group}" = [{", ".join(str(q) for q in g.quota)}]')
        return "\n".join(lines) + "\n"


def _toml_scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    raise BadInput(f"[guard] setting {value!r}: not a number or true/false")


def _settings_of(config: GuardConfig) -> dict[str, object]:
    return {
        name: getattr(config, name)
        for name in GuardConfig.__dataclass_fields__
        if name not in ("quotas", "windows")
    }


def floor_of(role: str) -> Triple:
    return DEFAULT_QUOTAS.get(role, FALLBACK_QUOTA)


def tune(
    history: History,
    target_share: float = DEFAULT_TARGET_SHARE,
    *,
    min_accounts: int = MIN_ACCOUNTS,
    min_tail: int = MIN_TAIL,
    source: str = "events",
) -> Proposal:
    """Per peer group (each role, and each role at each site kind) the proposed quotas."""
    check_target_share(target_share)
    legit = ~history.insider[history.actor]
    actor = history.actor[legit]
    if actor.size == 0:
        raise BadInput(
            f"{source}: no allowed reveals of unlabelled accounts to learn from "
            f"({history.reveals} counted reveals in all)"
        )
    counts = window_counts(history)[:, legit]
    min_reveals = math.ceil(min_tail / target_share - 1e-9)

    # Every reveal belongs to its role's group and, if its site is known, to role@kind.
    roles = sorted(set(history.roles))
    pairs = sorted({(r, k) for r, k in zip(history.roles, history.site_kinds, strict=True) if k})
    names = roles + [f"{r}@{k}" for r, k in pairs]
    role_of = np.array([roles.index(r) for r in history.roles], dtype=np.int64)
    pair_index = {p: len(roles) + i for i, p in enumerate(pairs)}
    pair_of = np.array(
        [
            pair_index.get((r, k), -1)
            for r, k in zip(history.roles, history.site_kinds, strict=True)
        ],
        dtype=np.int64,
    )
    in_pair = pair_of[actor] >= 0
    group = np.concatenate([role_of[actor], pair_of[actor][in_pair]])
    member = np.concatenate([actor, actor[in_pair]])
    values = np.concatenate([counts, counts[:, in_pair]], axis=1)

    size = len(names)
    reveals = np.bincount(group, minlength=size)
    accounts = np.bincount(
        np.unique(group * len(history.roles) + member) // len(history.roles), minlength=size
    )
    allowed_over = np.floor(target_share * reveals + 1e-9).astype(np.int64)
    learned = (accounts >= min_accounts) & (reveals >= min_reveals)

    observed = np.zeros((3, size), dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(reveals)[:-1]])
    has = (reveals > 0) & (allowed_over < reveals)
    at = (starts + reveals - 1 - allowed_over)[has]
    for w in range(3):
        # Each group's counts in ascending order, groups one after another: one sort of a
        # combined key (ten times faster than a lexsort), the count is its remainder.
        scale = int(values[w].max()) + 1
        ordered = np.sort(group * scale + values[w])
        observed[w, has] = ordered[at] - np.flatnonzero(has) * scale

    group_role = [n.split("@", 1)[0] for n in names]
    floors = np.array([floor_of(r) for r in group_role], dtype=np.int64).T  # (3, size)
    quota = np.where(learned, np.maximum(observed, floors), floors)
    for g in range(len(roles), size):  # an unlearned role@kind keeps its role's quota
        if not learned[g]:
            quota[:, g] = quota[:, roles.index(group_role[g])]

    over = values > quota[:, group]
    affected = np.stack([np.bincount(group, weights=o, minlength=size) for o in over])
    affected_any = np.bincount(group, weights=over.any(axis=0), minlength=size)
    proposals = []
    for g, name in enumerate(names):
        n = int(reveals[g])
        share = [float(affected[w, g]) / n if n else 0.0 for w in range(3)]
        proposals.append(
            GroupProposal(
                group=name,
                role=group_role[g],
                site_kind=name.split("@", 1)[1] if "@" in name else "",
                accounts=int(accounts[g]),
                reveals=n,
                learned=bool(learned[g]),
                observed=_triple(observed[:, g]) if learned[g] else None,
                floor=_triple(floors[:, g]),
                quota=_triple(quota[:, g]),
                affected=(share[0], share[1], share[2]),
                affected_any=float(affected_any[g]) / n if n else 0.0,
            )
        )
    insiders = history.insider
    return Proposal(
        target_share=target_share,
        groups=tuple(proposals),
        accounts=int(np.unique(actor).size),
        reveals=int(actor.size),
        insiders_excluded=int(insiders.sum()),
        insider_reveals_excluded=int(history.reveals - actor.size),
        unknown_account_reveals=history.unknown_account_reveals,
        min_accounts=min_accounts,
        min_reveals=min_reveals,
    )


def _triple(values: I64) -> Triple:
    return (int(values[0]), int(values[1]), int(values[2]))


# -- applying a configuration to a history --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Check:
    """What a configuration's quotas would have done to a history's reveals.

    Quota signals only (``over_quota_*`` and ``far_over_quota_*``): the guard's other
    signals (unlinked reveals, denials, foreign numbers, new networks) and the insiders'
    reaction to being stopped are the live simulation's to measure
    (``parcelguard simulate live``). A reveal is stepped up when its count is over its peer
    group's quota in any window, and contains its account when over ``hard_factor`` times.
    """

    legit_reveals: int
    legit_accounts: int
    legit_stepped_up: int
    legit_stepped_up_by_window: tuple[int, int, int]
    legit_far_over: int
    legit_accounts_contained: int
    insiders: int
    insider_reveals: int
    """Reveals inside the insiders' labelled episodes."""
    insider_reveals_stepped_up: int
    insiders_stepped_up: int
    insiders_contained: int

    @property
    def legit_stepped_up_share(self) -> float:
        return self.legit_stepped_up / self.legit_reveals if self.legit_reveals else 0.0

    def as_dict(self) -> dict[str, object]:
        legit = self.legit_reveals or 1
        return {
            "legit_reveals": self.legit_reveals,
            "legit_accounts": self.legit_accounts,
            "legit_stepped_up": self.legit_stepped_up,
            "legit_stepped_up_share": self.legit_stepped_up_share,
            "legit_stepped_up_share_by_window": {
                name: n / legit
                for name, n in zip(WINDOW_NAMES, self.legit_stepped_up_by_window, strict=True)
            },
            "legit_far_over": self.legit_far_over,
            "legit_accounts_contained": self.legit_accounts_contained,
            "insiders": self.insiders,
            "insider_reveals": self.insider_reveals,
            "insider_reveals_stepped_up": self.insider_reveals_stepped_up,
            "insiders_stepped_up": self.insiders_stepped_up,
            "insiders_contained": self.insiders_contained,
        }


def check(history: History, config: GuardConfig) -> Check:
    """Apply ``config``'s quotas to ``history`` as the guard looks them up.

    Each account's quota is ``config.quota(role, site_kind)`` with its home site's kind: the
    guard's own lookup (``role@kind``, else ``role``).
    """
    counts = window_counts(history, config.windows)
    per_account = np.array(
        [config.quota(r, k) for r, k in zip(history.roles, history.site_kinds, strict=True)],
        dtype=np.int64,
    ).reshape(-1, 3)
    quota = per_account[history.actor].T  # (3, reveals)
    over = counts > quota
    far = counts > quota * config.hard_factor
    stepped, contained = over.any(axis=0), far.any(axis=0)
    legit = ~history.insider[history.actor]
    bad = history.malicious

    def accounts(mask: Bools) -> int:
        return int(np.unique(history.actor[mask]).size)

    by_window = over[:, legit].sum(axis=1)
    return Check(
        legit_reveals=int(legit.sum()),
        legit_accounts=accounts(legit),
        legit_stepped_up=int((stepped & legit).sum()),
        legit_stepped_up_by_window=(int(by_window[0]), int(by_window[1]), int(by_window[2])),
        legit_far_over=int((contained & legit).sum()),
        legit_accounts_contained=accounts(contained & legit),
        insiders=int(history.insider.sum()),
        insider_reveals=int(bad.sum()),
        insider_reveals_stepped_up=int((stepped & bad).sum()),
        insiders_stepped_up=accounts(stepped & ~legit),
        insiders_contained=accounts(contained & ~legit),
    )
