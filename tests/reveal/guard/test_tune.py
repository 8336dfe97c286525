"""``guard tune``: quotas learned from a history, on small tables whose answers are known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from parcelguard.core.errors import BadInput
from parcelguard.reveal.guard.config import DEFAULT_QUOTAS, GuardConfig
from parcelguard.reveal.guard.counters_store import StoreCounters
from parcelguard.reveal.guard.tune import (
    check,
    check_target_share,
    history_from_tables,
    tune,
    window_counts,
)
from parcelguard.storage import connect_store, upgrade

T0 = 1_800_000_000  # a minute boundary
TS = pa.timestamp("us", tz="+08:00")
SITES = {"S1": "office", "S2": "hub", "S3": "station"}


def world(
    reveals: list[tuple[str, int]],
    employees: dict[str, tuple[str, str]],
    *,
    labels: list[tuple[str, int, int]] | None = None,
    extra: list[dict[str, object]] | None = None,
) -> dict[str, pa.Table]:
    """Tables as ``read_folder`` gives them: ``reveals`` are (employee, POSIX second) allowed
    phone reveals; ``employees`` maps id -> (role, site); ``extra`` rows are accesses as
    written (ts in seconds)."""
    rows = [
        {"employee_id": e, "ts": t, "action": "reveal", "field": "phone", "decision": "allow",
         "reason": "courier_assigned"}
        for e, t in reveals
    ] + list(extra or [])  # fmt: skip
    accesses = pa.table(
        {
            "employee_id": pa.array([r["employee_id"] for r in rows], pa.string()),
            "ts": pa.array([int(r["ts"]) * 1_000_000 + 1 for r in rows], TS),  # type: ignore[call-overload]
            "action": pa.array([r["action"] for r in rows], pa.string()),
            "field": pa.array([r["field"] for r in rows], pa.string()),
            "decision": pa.array([r["decision"] for r in rows], pa.string()),
            "reason": pa.array([r["reason"] for r in rows], pa.string()),
        }
    )
    tables = {
        "employees": pa.table(
            {
                "employee_id": list(employees),
                "role": [role for role, _ in employees.values()],
                "site_id": [site for _, site in employees.values()],
            }
        ),
        "sites": pa.table({"site_id": list(SITES), "kind": list(SITES.values())}),
        "accesses": accesses,
    }
    if labels is not None:
        tables["labels"] = pa.table(
            {
                "employee_id": pa.array([e for e, _, _ in labels], pa.string()),
                "scenario": pa.array(["snooper"] * len(labels), pa.string()),
                "started_at": pa.array([s * 1_000_000 for _, s, _ in labels], TS),
                "ended_at": pa.array([e * 1_000_000 + 1 for _, _, e in labels], TS),
            }
        )
    return tables


def burst(employee: str, n: int, at: int = T0) -> list[tuple[str, int]]:
    """``n`` reveals in one second: the account's counts are 1, 2, ..., n in every window."""
    return [(employee, at)] * n


ENGINEERS = {f"E{i}": ("it_engineer", "S1") for i in range(5)}


# -- the windows ---------------------------------------------------------------------------------


def test_window_edges_follow_the_one_minute_buckets() -> None:
    # A window of N seconds holds the buckets that *started* after t - N, and the reveal itself.
    at = [0, 30, 599, 600, 659, 660, 3_599, 3_600, 86_399, 86_400, 86_460]
    history = history_from_tables(world([("E0", T0 + s) for s in at], ENGINEERS))
    counts = window_counts(history)
    assert counts[0].tolist() == [1, 2, 3, 2, 3, 4, 1, 2, 1, 2, 3]
    assert counts[1].tolist() == [1, 2, 3, 4, 5, 6, 7, 6, 1, 2, 3]
    assert counts[2].tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 8, 9]


def test_window_counts_are_what_the_guards_own_store_counted(tmp_path: Path) -> None:
    """Replayed through the real StoreCounters, each reveal's count (before it, plus itself)
    is the one ``window_counts`` computes, for several accounts over two days."""
    rng = np.random.default_rng(7)
    seconds = np.sort(
        np.concatenate(
            [
                T0 + rng.integers(0, 2 * 86_400, 250),
                T0 + 600 * rng.integers(0, 200, 60),  # on minute and window boundaries
                np.full(5, T0 + 3_000),  # a same-second burst
            ]
        )
    )
    actors = rng.choice(["E0", "E1", "E2"], seconds.size)
    history = history_from_tables(world(list(zip(actors.tolist(), seconds.tolist())), ENGINEERS))
    computed = window_counts(history)

    engine = connect_store(f"sqlite:///{tmp_path / 'store.db'}", create=True)
    try:
        upgrade(engine)
        counters = StoreCounters(engine)
        guard_saw: dict[str, list[tuple[int, ...]]] = {"E0": [], "E1": [], "E2": []}
        for actor, second in zip(actors.tolist(), seconds.tolist()):
            before = counters.observe({actor: {"sensitive": 1}}, second)[actor]
            counts = before.get("sensitive", (0, 0, 0))
            guard_saw[actor].append(tuple(c + 1 for c in counts))
    finally:
        engine.dispose()
    ours: dict[str, list[tuple[int, ...]]] = {"E0": [], "E1": [], "E2": []}
    for i, account in enumerate(history.actor.tolist()):
        ours[history.employee_ids[account]].append(tuple(computed[:, i].tolist()))
    assert ours == guard_saw


# -- what counts -----------------------------------------------------------------------------------


def test_only_values_handed_out_count() -> None:
    def row(action: str, field: str | None, decision: str, reason: str) -> dict[str, object]:
        return {"employee_id": "E0", "ts": T0, "action": action, "field": field,
                "decision": decision, "reason": reason}  # fmt: skip

    extra = [
        row("export", "address", "allow", "legacy_lookup"),  # counts
        row("reveal", "name", "deny", "guard_step_up_refused"),  # the guard counted it
        row("reveal", "phone", "deny", "not_assigned"),  # a denial: no value
        row("view_masked", "phone", "allow", "masked"),  # a mask is not sensitive
        row("search", None, "allow", "directory"),
        row("reveal", None, "allow", "odd"),  # no recipient field
        {**row("reveal", "phone", "allow", "x"), "employee_id": "E99"},  # unknown account
    ]
    history = history_from_tables(world([("E0", T0)], ENGINEERS, extra=extra))
    assert history.reveals == 3
    assert history.unknown_account_reveals == 1


# -- the proposal ----------------------------------------------------------------------------------


def test_the_smallest_quota_that_keeps_the_target() -> None:
    # Five engineers, four reveals each in one second: counts 1..4, twenty reveals.
    history = history_from_tables(world([r for e in ENGINEERS for r in burst(e, 4)], ENGINEERS))
    proposal = tune(history, 0.25, min_tail=5)  # five reveals may be over: quota 3
    group = {g.group: g for g in proposal.groups}["it_engineer"]
    assert (group.accounts, group.reveals, group.learned) == (5, 20, True)
    assert group.observed == (3, 3, 3)
    assert group.quota == (3, 5, 10)  # 1 h and 1 day stay on the floor (2, 5, 10)
    assert group.affected == (0.25, 0.0, 0.0)
    assert group.affected_any == 0.25
    # One reveal fewer allowed over, and the quota must rise to the top count.
    stricter = tune(history, 0.2, min_tail=4)
    assert {g.group: g for g in stricter.groups}["it_engineer"].quota == (4, 5, 10)


def test_never_under_the_floor() -> None:
    couriers = {f"C{i}": ("courier", "S3") for i in range(5)}
    history = history_from_tables(world([r for e in couriers for r in burst(e, 4)], couriers))
    proposal = tune(history, 0.25, min_tail=5)
    group = {g.group: g for g in proposal.groups}["courier@station"]
    assert group.learned
    assert group.observed == (3, 3, 3)
    assert group.quota == DEFAULT_QUOTAS["courier"]
    assert group.affected_any == 0.0
    assert proposal.config().quota("courier", "station") == DEFAULT_QUOTAS["courier"]
    # Without the floor, the estimate itself: a quarter of the reveals over it, as targeted.
    unfloored = proposal.unfloored_config()
    assert unfloored.quota("courier", "station") == (3, 3, 3)
    assert check(history, unfloored).legit_stepped_up_share == 0.25


def test_a_group_too_small_keeps_its_roles_quota() -> None:
    staff = {**ENGINEERS, "H1": ("it_engineer", "S2"), "H2": ("it_engineer", "S2")}
    reveals = [r for e in ENGINEERS for r in burst(e, 4)] + burst("H1", 30) + burst("H2", 30)
    proposal = tune(history_from_tables(world(reveals, staff)), 0.25, min_tail=5)
    groups = {g.group: g for g in proposal.groups}
    hub, office, role = (
        groups["it_engineer@hub"],
        groups["it_engineer@office"],
        groups["it_engineer"],
    )
    assert (hub.accounts, hub.reveals, hub.learned, hub.observed) == (2, 60, False, None)
    assert office.learned
    assert role.learned
    assert hub.quota == role.quota
    assert "it_engineer@hub" not in proposal.quotas
    config = proposal.config()
    assert config.quota("it_engineer", "hub") == role.quota
    assert config.quota("it_engineer", "office") == office.quota == (3, 5, 10)
    # The role learns from all seven accounts: 80 reveals, 20 may be over, which are the
    # hub accounts' 21st to 30th.
    assert (role.accounts, role.reveals) == (7, 80)
    assert role.observed == (20, 20, 20)
    assert role.affected == (0.25, 0.25, 0.25)


def test_few_reveals_are_not_learned_from_either() -> None:
    history = history_from_tables(world([r for e in ENGINEERS for r in burst(e, 4)], ENGINEERS))
    proposal = tune(history, 0.25)  # ten reveals over the quota needs 40 reveals
    assert proposal.min_reveals == 40
    assert proposal.quotas == {}
    assert {g.group: g for g in proposal.groups}["it_engineer"].quota == DEFAULT_QUOTAS[
        "it_engineer"
    ]


def test_labelled_insiders_are_left_out() -> None:
    staff = {**ENGINEERS, "X": ("it_engineer", "S1")}
    reveals = [r for e in ENGINEERS for r in burst(e, 4)] + burst("X", 50, T0 + 7)
    unlabelled = tune(history_from_tables(world(reveals, staff)), 0.25, min_tail=5)
    labelled = tune(
        history_from_tables(world(reveals, staff, labels=[("X", T0 + 7, T0 + 7)])),
        0.25,
        min_tail=5,
    )
    assert {g.group: g for g in unlabelled.groups}["it_engineer"].quota[0] > 10
    group = {g.group: g for g in labelled.groups}["it_engineer"]
    assert (group.accounts, group.reveals, group.quota) == (5, 20, (3, 5, 10))
    assert (labelled.insiders_excluded, labelled.insider_reveals_excluded) == (1, 50)


def test_the_proposal_loads_as_a_guard_configuration(tmp_path: Path) -> None:
    staff = {**ENGINEERS, **{f"C{i}": ("courier", "S3") for i in range(5)}}
    reveals = [r for e in staff for r in burst(e, 4)]
    proposal = tune(history_from_tables(world(reveals, staff)), 0.25, min_tail=5)
    path = tmp_path / "guard.toml"
    path.write_text(proposal.to_toml({"hard_factor": 3.0, "step_up_new_network": False}))
    loaded = GuardConfig.load(path)
    assert loaded.hard_factor == 3.0
    assert loaded.step_up_new_network is False
    assert loaded.quota("it_engineer", "office") == (3, 5, 10)
    assert loaded.quota("courier", "station") == DEFAULT_QUOTAS["courier"]
    assert {k: loaded.quotas[k] for k in proposal.quotas} == proposal.quotas


def test_no_history_is_refused() -> None:
    with pytest.raises(BadInput, match="events: no allowed reveals"):
        tune(history_from_tables(world([], ENGINEERS)))
    only_insider = world(burst("E0", 3), ENGINEERS, labels=[("E0", T0, T0)])
    with pytest.raises(BadInput, match="3 counted reveals in all"):
        tune(history_from_tables(only_insider))


@pytest.mark.parametrize("share", [0.0, -0.1, 0.51, float("nan")])
def test_a_target_share_outside_the_range_is_refused(share: float) -> None:
    with pytest.raises(BadInput, match=r"--target-share .*\(0, 0.5\]"):
        check_target_share(share)


def test_missing_tables_are_named() -> None:
    tables = world([], ENGINEERS)
    del tables["sites"]
    with pytest.raises(BadInput, match="here: no table sites"):
        history_from_tables(tables, "here")


# -- applying it -----------------------------------------------------------------------------------


def test_check_counts_step_ups_and_containments() -> None:
    staff = {**ENGINEERS, "X": ("it_engineer", "S1")}
    # E0 reveals 4 in a burst, X 30 in a labelled episode; the engineers' quota is (3, 5, 10).
    history = history_from_tables(
        world(burst("E0", 4) + burst("E1", 2) + burst("X", 30), staff, labels=[("X", T0, T0)])
    )
    config = GuardConfig.from_mapping({"quotas": {"it_engineer": [3, 5, 10]}})
    found = check(history, config)
    assert (found.legit_reveals, found.legit_accounts) == (6, 2)
    assert found.legit_stepped_up == 1  # E0's fourth
    assert found.legit_stepped_up_by_window == (1, 0, 0)
    assert (found.legit_far_over, found.legit_accounts_contained) == (0, 0)
    assert (found.insiders, found.insider_reveals) == (1, 30)
    assert found.insider_reveals_stepped_up == 27  # over 3 from the fourth on
    assert (found.insiders_stepped_up, found.insiders_contained) == (1, 1)  # past 2 x 10
