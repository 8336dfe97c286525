"""Who holds the waybills an account looked up without a workflow reason: the harvester.

Why: in the Jingzhou case the clerk who revealed 4,000 records had no link to those parcels,
and the courier who had them (and sold the list) revealed almost nothing himself; no detector
that counts one account's own reveals finds him. What links the two is the list: nearly every
number the clerk asked for was held, in the carrier's own workflow, by one courier far away.
A concentration that chance does not produce (that courier's share of all the period's
waybills says what chance would give) names the holder, with the figures as the reason.

The core, :func:`link_holders`, is pure and works on ids and counts only; the edges build
its :class:`Holdings` from the exchange-format tables (:func:`holdings_from_tables`) or from a
store's workflow facts (:func:`holdings_in_store`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa
    import sqlalchemy as sa

MIN_HELD = 5
"""A handful is the least that can be a list; fewer is a coincidence however unlikely."""
MIN_SHARE = 0.5
"""Of the account's known unexplained waybills, the share one holder must hold: a harvester
hands over his own parcels, so he holds most of the list, not a corner of it."""
MIN_LIFT = 10.0
"""How many times what chance gives; a busy courier's large share of the traffic is no link."""
MAX_P = 1e-6
"""Binomial tail, after multiplying by the number of holders tried (Bonferroni)."""

HOLDER_CONCENTRATION = "holder_concentration"
NO_CONCENTRATION = "no_concentration"
NO_UNEXPLAINED = "no_unexplained_reveals"
UNKNOWN_WAYBILLS = "unknown_waybills"


@dataclass(frozen=True, slots=True)
class Holdings:
    """Who held which waybills in the period, as the link needs it (ids and counts).

    ``held_by`` covers the waybills asked about (an absent one is unknown to the workflow:
    another carrier's number, or none at all); ``totals`` is every holder's count of waybills
    in the period and ``universe`` the period's waybills, so a holder's share is chance.
    """

    held_by: Mapping[str, frozenset[str]]
    totals: Mapping[str, int]
    universe: int


@dataclass(frozen=True, slots=True)
class HolderLink:
    holder_id: str
    held: int
    """Of the account's known unexplained waybills, how many this holder held."""
    of: int
    """The account's known unexplained waybills (the trials)."""
    expected: float
    """What chance gives: ``of`` times the holder's share of the period's waybills."""
    lift: float
    p_value: float
    """Binomial upper tail P(X >= held), times the holders tried, capped at 1."""
    named: bool
    """Whether the concentration passes every bar (see the module's constants)."""

    @property
    def share(self) -> float:
        return self.held / self.of if self.of else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "holder_id": self.holder_id,
            "held": self.held,
            "of": self.of,
            "share": round(self.share, 4),
            "expected": round(self.expected, 3),
            "lift": round(self.lift, 1),
            "p_value": float(f"{self.p_value:.3g}"),
            "named": self.named,
        }


@dataclass(frozen=True, slots=True)
class HolderFinding:
    """The decision for one account: who is linked to it, and why (machine codes)."""

    account: str
    asked: int
    """Distinct unexplained waybill numbers the account asked for."""
    unknown: int
    """Of those, numbers no holder in the period held (another carrier's, or made up)."""
    ranked: tuple[HolderLink, ...]
    """Holders by how many of the waybills they held, most first (top few)."""
    reasons: tuple[str, ...]

    @property
    def named(self) -> tuple[HolderLink, ...]:
        return tuple(link for link in self.ranked if link.named)

    def as_dict(self) -> dict[str, object]:
        return {
            "account": self.account,
            "asked": self.asked,
            "unknown": self.unknown,
            "named": [link.holder_id for link in self.named],
            "ranked": [link.as_dict() for link in self.ranked],
            "reasons": list(self.reasons),
        }


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed in log space (tiny tails do not underflow
    to a misleading 0 before they are below any bar)."""
    if k <= 0:
        return 1.0
    if k > n or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [
        math.lgamma(n + 1)
        - math.lgamma(j + 1)
        - math.lgamma(n - j + 1)
        + j * log_p
        + (n - j) * log_q
        for j in range(k, n + 1)
    ]
    top = max(terms)
    return min(1.0, math.exp(top) * math.fsum(math.exp(t - top) for t in terms))


def link_holders(
    account: str, unexplained: Iterable[str], holdings: Holdings, *, top: int = 3
) -> HolderFinding:
    """Rank who held ``account``'s unexplained waybills against chance; name the outliers.

    ``unexplained`` are the waybill numbers the account asked for that its own workflow did
    not explain (the caller decides that from the audit reasons). The account itself is never
    its own harvester: waybills it held are left out of the trials.
    """
    asked = set(unexplained)
    known = [w for w in asked if holdings.held_by.get(w)]
    unknown = len(asked) - len(known)
    counts: Counter[str] = Counter(
        holder for w in known for holder in holdings.held_by[w] if holder != account
    )
    trials = sum(1 for w in known if account not in holdings.held_by[w])
    reasons: list[str] = []
    if unknown:
        reasons.append(UNKNOWN_WAYBILLS)
    if not trials:
        return HolderFinding(account, len(asked), unknown, (), (*reasons, NO_UNEXPLAINED))
    tried = max(len(counts), 1)
    links = []
    for holder, held in counts.most_common(top):
        share = holdings.totals.get(holder, held) / max(holdings.universe, 1)
        expected = trials * share
        lift = held / expected if expected > 0 else math.inf
        p_value = min(1.0, binomial_tail(held, trials, share) * tried)
        named = (
            held >= MIN_HELD
            and held / trials >= MIN_SHARE
            and lift >= MIN_LIFT
            and p_value <= MAX_P
        )
        links.append(HolderLink(holder, held, trials, expected, lift, p_value, named))
    reasons.append(HOLDER_CONCENTRATION if any(link.named for link in links) else NO_CONCENTRATION)
    return HolderFinding(account, len(asked), unknown, tuple(links), tuple(reasons))


# -- edges -------------------------------------------------------------------------------------


def holdings_from_tables(tables: Mapping[str, pa.Table], asked: Collection[str]) -> Holdings:
    """Holdings from the exchange format: assigned couriers, and who scanned the pickup."""
    import pyarrow.compute as pc

    pairs: set[tuple[str, str]] = set()
    assignments = tables["assignments"]
    pairs.update(
        zip(
            assignments["waybill_no"].to_pylist(),
            assignments["courier_id"].to_pylist(),
            strict=True,
        )
    )
    scans = tables.get("scans")
    if scans is not None:
        pickups = scans.filter(pc.equal(scans["kind"], "pickup"))
        pairs.update(
            zip(pickups["waybill_no"].to_pylist(), pickups["employee_id"].to_pylist(), strict=True)
        )
    return _holdings(pairs, asked, tables["waybills"].num_rows)


def holdings_in_store(
    conn: sa.Connection, asked: Collection[str], since: datetime, until: datetime
) -> Holdings:
    """Holdings from a store's assignments that overlap [since, until)."""
    import sqlalchemy as sa

    from parcelguard.storage.schema import assignments

    c = assignments.c
    rows = conn.execute(
        sa.select(c.waybill_no, c.courier_id).where(c.assigned_at < until, c.until > since)
    )
    pairs = {(str(waybill), str(courier)) for waybill, courier in rows}
    return _holdings(pairs, asked, len({waybill for waybill, _ in pairs}))


def _holdings(pairs: Iterable[tuple[str, str]], asked: Collection[str], universe: int) -> Holdings:
    wanted = set(asked)
    held_by: dict[str, set[str]] = {}
    totals: dict[str, set[str]] = {}
    for waybill, holder in pairs:
        if not holder:
            continue
        totals.setdefault(holder, set()).add(waybill)
        if waybill in wanted:
            held_by.setdefault(waybill, set()).add(holder)
    return Holdings(
        held_by={w: frozenset(h) for w, h in held_by.items()},
        totals={holder: len(held) for holder, held in totals.items()},
        universe=universe,
    )


__all__ = [
    "HOLDER_CONCENTRATION",
    "NO_CONCENTRATION",
    "NO_UNEXPLAINED",
    "UNKNOWN_WAYBILLS",
    "HolderFinding",
    "HolderLink",
    "Holdings",
    "binomial_tail",
    "holdings_from_tables",
    "holdings_in_store",
    "link_holders",
]
