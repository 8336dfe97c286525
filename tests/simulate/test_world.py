"""The simulated carrier: same seed same world, every reference resolves, truth matches."""

from dataclasses import replace
from datetime import date, datetime, time, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from parcelguard.core.clock import CARRIER_TZ
from parcelguard.core.errors import BadInput
from parcelguard.simulate.run import describe, scenario_names, simulate
from parcelguard.simulate.scenarios import SCENARIOS
from parcelguard.simulate.world import WorldConfig

SMALL = WorldConfig(seed=7, days=4, employees=600, waybills_per_day=3_000, start=date(2016, 10, 1))


@pytest.fixture(scope="module")
def world() -> dict[str, pa.Table]:
    return simulate(SMALL, scenario_names("all"))


def test_the_same_seed_gives_the_same_world(world: dict[str, pa.Table]) -> None:
    again = simulate(SMALL, scenario_names("all"))
    for name, table in world.items():
        assert table.equals(again[name]), name


def test_another_seed_gives_another_world(world: dict[str, pa.Table]) -> None:
    other = simulate(replace(SMALL, seed=8), [])
    assert not other["waybills"].equals(world["waybills"])


def ids(table: pa.Table, column: str) -> set[str]:
    return set(pc.unique(table[column]).to_pylist()) - {None}


def test_every_reference_resolves(world: dict[str, pa.Table]) -> None:
    employees, sites = ids(world["employees"], "employee_id"), ids(world["sites"], "site_id")
    waybills = ids(world["waybills"], "waybill_no")
    assert ids(world["employees"], "site_id") <= sites
    assert ids(world["waybills"], "origin_site_id") <= sites
    assert ids(world["waybills"], "dest_site_id") <= sites
    assert ids(world["waybills"], "sender_id") <= ids(world["senders"], "sender_id")
    for table, column in [("scans", "employee_id"), ("assignments", "courier_id"),
                          ("tickets", "agent_id"), ("accesses", "employee_id"),
                          ("labels", "employee_id")]:  # fmt: skip
        assert ids(world[table], column) <= employees, (table, column)
    for table in ("scans", "assignments", "tickets"):
        assert ids(world[table], "waybill_no") <= waybills, table
    assert ids(world["scans"], "site_id") <= sites
    accessed = ids(world["accesses"], "waybill_no") - {""}
    foreign = accessed - waybills
    assert foreign, "the scenarios query other carriers' numbers"
    assert not any(number.startswith("PG") for number in foreign)
    events = world["accesses"]["event_id"]
    assert pc.count_distinct(events).as_py() == len(events)


def test_roles_do_their_own_work(world: dict[str, pa.Table]) -> None:
    role = dict(zip(world["employees"]["employee_id"].to_pylist(),
                    world["employees"]["role"].to_pylist(), strict=True))  # fmt: skip
    assert {role[c] for c in ids(world["assignments"], "courier_id")} == {"courier"}
    assert {role[a] for a in ids(world["tickets"], "agent_id")} == {"cs_agent"}


def test_a_parcel_moves_forward_in_time(world: dict[str, pa.Table]) -> None:
    scans = world["scans"].sort_by([("waybill_no", "ascending"), ("ts", "ascending")])
    first = scans.filter(pc.equal(scans["kind"], "pickup"))
    created = dict(zip(world["waybills"]["waybill_no"].to_pylist(),
                       world["waybills"]["created_at"].to_pylist(), strict=True))  # fmt: skip
    for number, ts in zip(
        first["waybill_no"].to_pylist()[:500], first["ts"].to_pylist()[:500], strict=True
    ):
        assert ts > created[number]
    kinds = pc.value_counts(scans["kind"]).to_pylist()
    counts = {row["values"]: row["counts"] for row in kinds}
    assert counts["pickup"] == world["waybills"].num_rows
    assert counts["deliver"] + counts.get("return", 0) == world["waybills"].num_rows


def test_every_scenario_has_its_truth(world: dict[str, pa.Table]) -> None:
    labels = world["labels"]
    assert set(labels["scenario"].to_pylist()) == set(SCENARIOS)
    accesses = world["accesses"]
    for row in labels.to_pylist():
        mine = accesses.filter(pc.equal(accesses["employee_id"], row["employee_id"]))
        stamps = set(mine["ts"].to_pylist())
        assert row["started_at"] in stamps, row
        assert row["ended_at"] in stamps, row
        assert row["started_at"] <= row["ended_at"]


def test_the_case_scenario_reveals_fresh_parcels_of_one_bulk_sender(
    world: dict[str, pa.Table],
) -> None:
    labels = world["labels"].filter(pc.equal(world["labels"]["scenario"], "jingzhou-2016"))
    accesses, waybills = world["accesses"], world["waybills"]
    created = dict(
        zip(waybills["waybill_no"].to_pylist(), waybills["created_at"].to_pylist(), strict=True)
    )
    sender = dict(
        zip(waybills["waybill_no"].to_pylist(), waybills["sender_id"].to_pylist(), strict=True)
    )
    busiest = 0
    for employee in labels["employee_id"].to_pylist():
        mine = accesses.filter(pc.and_(pc.equal(accesses["employee_id"], employee),
                                       pc.equal(accesses["reason"], "legacy_lookup")))  # fmt: skip
        rows = mine.to_pylist()
        for r in rows:
            age = (r["ts"] - created[r["waybill_no"]]).total_seconds()
            assert 0 <= age <= 2 * 86_400
        if len(rows) > busiest:
            busiest = len(rows)
            senders = {sender[r["waybill_no"]] for r in rows}
    assert busiest > 100
    assert len(senders) == 1


def test_an_honest_world_has_no_labels() -> None:
    honest = simulate(SMALL, [])
    assert honest["labels"].num_rows == 0
    assert pc.sum(pc.equal(honest["accesses"]["reason"], "legacy_lookup")).as_py() in (None, 0)


def test_describe_shows_a_carrier(world: dict[str, pa.Table]) -> None:
    facts = describe(world)
    assert facts["rows"]["waybills"] == world["waybills"].num_rows  # type: ignore[index]
    reveals = facts["reveals_by_role"]
    assert max(reveals, key=reveals.get) == "courier"  # type: ignore[arg-type]
    assert 0 < facts["denied_share"] < 0.05  # type: ignore[operator]


@pytest.mark.parametrize(
    ("text", "message"),
    [("snoopr", "unknown snoopr"), ("all,nothing", "unknown all, nothing")],
)
def test_unknown_scenarios_are_named(text: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        scenario_names(text)


def test_the_guarded_regime_is_not_here_yet() -> None:
    with pytest.raises(BadInput, match="guarded regime arrives with the reveal service"):
        simulate(WorldConfig(regime="guarded"), [])


def test_volumes_follow_the_week_and_the_peak() -> None:
    config = WorldConfig(
        days=14, waybills_per_day=1_000, peak_days=(7, 8, 9), start=date(2016, 10, 3)
    )
    volumes = config.day_volumes()  # 2016-10-03 is a Monday
    assert volumes[5] < volumes[4]  # Saturday is quieter than Friday
    assert volumes[7] == 2 * volumes[0]  # the peak's Monday doubles a normal Monday
    assert np.all(volumes > 0)


# -- honest work is explained by the workflow ------------------------------------------------


@pytest.fixture(scope="module")
def honest() -> dict[str, pa.Table]:
    return simulate(SMALL, [])


def _local_date(moment: datetime) -> date:
    return moment.astimezone(CARRIER_TZ).date()


def _employed(row: dict[str, object], day: date) -> bool:
    hired, left = row["hired_on"], row["left_on"]
    return hired <= day and (left is None or day <= left)  # type: ignore[operator]


def _reveals(world: dict[str, pa.Table], reason: str) -> list[dict[str, object]]:
    a = world["accesses"]
    wanted = pc.and_(pc.equal(a["action"], "reveal"), pc.equal(a["reason"], reason))
    return a.filter(wanted).to_pylist()


def test_every_courier_reveal_is_of_a_parcel_assigned_to_him_then(
    honest: dict[str, pa.Table],
) -> None:
    held: dict[tuple[str, str], list[tuple[datetime, datetime]]] = {}
    for row in honest["assignments"].to_pylist():
        key = (row["waybill_no"], row["courier_id"])
        held.setdefault(key, []).append((row["assigned_at"], row["until"]))
    reveals = _reveals(honest, "assigned")
    assert len(reveals) > 1_000
    for r in reveals:
        spans = held.get((r["waybill_no"], r["employee_id"]), [])
        assert any(start <= r["ts"] <= until for start, until in spans), r["event_id"]


def test_a_covered_route_is_reassigned_at_the_handover(honest: dict[str, pa.Table]) -> None:
    """The route's courier holds the parcel until the handover, the colleague from then."""
    site = dict(zip(honest["employees"]["employee_id"].to_pylist(),
                    honest["employees"]["site_id"].to_pylist(), strict=True))  # fmt: skip
    deliveries = honest["scans"].filter(pc.is_in(honest["scans"]["kind"],
                                                 pa.array(["dispatch", "deliver"])))  # fmt: skip
    out_by = {(r["waybill_no"], r["kind"]): r for r in deliveries.to_pylist()}
    rows = honest["assignments"].sort_by(
        [("waybill_no", "ascending"), ("assigned_at", "ascending")]
    )
    by_waybill: dict[str, list[dict[str, object]]] = {}
    for row in rows.to_pylist():
        by_waybill.setdefault(row["waybill_no"], []).append(row)  # type: ignore[arg-type]
    reassigned = 0
    for number, held in by_waybill.items():
        delivery = held[1:]  # the first is the pickup courier's
        if len(delivery) < 2:
            continue
        reassigned += 1
        route, colleague = delivery
        assert route["until"] == colleague["assigned_at"], number
        assert route["courier_id"] != colleague["courier_id"]
        assert site[route["courier_id"]] == site[colleague["courier_id"]]  # type: ignore[index]
        dispatch = out_by.get((number, "dispatch"))
        if dispatch is not None:  # the colleague takes it out, before his day ends
            assert dispatch["employee_id"] == colleague["courier_id"]
            assert colleague["assigned_at"] <= dispatch["ts"] <= colleague["until"]
            end = datetime.combine(_local_date(dispatch["ts"]), time(), CARRIER_TZ)
            assert colleague["until"] == end + timedelta(days=1)
    waybills = honest["waybills"].num_rows
    assert 0.01 * waybills < reassigned < 0.1 * waybills  # a few courier-days in a hundred


def test_work_goes_only_to_people_employed_that_day(honest: dict[str, pa.Table]) -> None:
    staff = {row["employee_id"]: row for row in honest["employees"].to_pylist()}
    joiners_or_leavers = [
        row for row in staff.values() if row["left_on"] or row["hired_on"] > SMALL.start
    ]
    assert joiners_or_leavers, "the world has staff who join or leave during the period"
    for row in honest["tickets"].to_pylist():
        assert _employed(staff[row["agent_id"]], _local_date(row["opened_at"])), row["ticket_id"]
    for row in honest["assignments"].to_pylist():
        assert _employed(staff[row["courier_id"]], _local_date(row["assigned_at"])), row
    scans = honest["scans"]
    for row in scans.take(np.arange(0, scans.num_rows, 7)).to_pylist():
        assert _employed(staff[row["employee_id"]], _local_date(row["ts"])), row
    accesses = honest["accesses"]
    reveals = accesses.filter(pc.equal(accesses["action"], "reveal")).to_pylist()
    for row in reveals:
        assert _employed(staff[row["employee_id"]], _local_date(row["ts"])), row["event_id"]


def test_clerks_call_about_exceptions_open_at_their_station_in_calling_hours(
    honest: dict[str, pa.Table],
) -> None:
    site = dict(zip(honest["employees"]["employee_id"].to_pylist(),
                    honest["employees"]["site_id"].to_pylist(), strict=True))  # fmt: skip
    opened: dict[str, tuple[str, datetime]] = {}
    closed: dict[str, datetime] = {}
    for row in honest["scans"].sort_by("ts").to_pylist():
        if row["kind"] == "exception":
            opened[row["waybill_no"]] = (row["site_id"], row["ts"])
        elif row["kind"] in ("deliver", "return") and row["waybill_no"] in opened:
            closed[row["waybill_no"]] = row["ts"]
    reveals = _reveals(honest, "exception")
    assert reveals
    for r in reveals:
        where, since = opened[r["waybill_no"]]  # type: ignore[index]
        assert site[r["employee_id"]] == where  # type: ignore[index]
        assert since < r["ts"] < closed[r["waybill_no"]]  # type: ignore[index, operator]
        assert 8 <= r["ts"].astimezone(CARRIER_TZ).hour < 22  # type: ignore[union-attr]


def test_agents_reveal_within_their_own_ticket_with_little_noise(
    honest: dict[str, pa.Table],
) -> None:
    opened: dict[tuple[str, str], datetime] = {
        (row["waybill_no"], row["agent_id"]): row["opened_at"]
        for row in honest["tickets"].to_pylist()
    }
    reveals = _reveals(honest, "ticket")
    assert len(reveals) > 100
    early = 0
    for r in reveals:
        start = opened[(r["waybill_no"], r["employee_id"])]  # type: ignore[index]
        lag = r["ts"] - start  # type: ignore[operator]
        assert timedelta(minutes=-5) < lag <= timedelta(hours=1), r["event_id"]
        early += lag < timedelta(0)
    assert early < 0.01 * len(reveals)


def test_honest_denials_are_rare_noise(honest: dict[str, pa.Table]) -> None:
    accesses = honest["accesses"]
    reveals = accesses.filter(pc.equal(accesses["action"], "reveal"))
    denied = reveals.filter(pc.equal(reveals["decision"], "deny"))
    assert 0 < denied.num_rows < 0.01 * reveals.num_rows
    assert set(denied["reason"].to_pylist()) == {"not_permitted"}
