"""The simulated carrier: same seed same world, every reference resolves, truth matches."""

from dataclasses import replace
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

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
