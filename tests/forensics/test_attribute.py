"""Attribution: the accounts behind a leaked file, from the audit log, with shares and evidence.

The file is made of the recipients the Jingzhou case's clerk and courier revealed, plus
other carriers' customers and recipients nobody revealed; the expected shares are counted
here from the simulator's own access rows, independently of the store and the log.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from parcelguard.admin import open_audit_log
from parcelguard.audit.entry import decode_entry
from parcelguard.config import Settings
from parcelguard.forensics.attribute import wilson
from tests.forensics.leak_world import LeakWorld, after_last, build, persons, run, unrevealed


@pytest.fixture
def world(settings: Settings) -> Iterator[LeakWorld]:
    built = build(settings)
    yield built
    built.engine.dispose()


def test_the_clerk_and_the_courier_are_named_with_the_shares_they_alone_explain(
    world: LeakWorld,
) -> None:
    first_seen = after_last(world.phone_reveals(world.clerk) + world.phone_reveals(world.courier))
    leaked = sorted(
        world.revealed(world.clerk, first_seen) | world.revealed(world.courier, first_seen)
    )
    nobody = unrevealed(world, 15, first_seen)
    found = run(world, persons(world, leaked + nobody, strangers=25), first_seen)

    records = len(leaked) + len(nobody)
    assert found.match.persons == records + 25
    assert found.match.matched_persons == records
    # Expected, from the access rows: who revealed each leaked record's phone before then.
    revealers = {no: world.revealers(no, first_seen) for no in leaked + nobody}
    attribution = found.attribution
    assert attribution.records == records
    assert attribution.unexplained == len(nobody)
    by_id = {a.employee_id: a for a in attribution.accounts}
    for who in (world.clerk, world.courier):
        mine = [no for no, them in revealers.items() if who in them]
        alone = [no for no, them in revealers.items() if them == {who}]
        account = by_id[who]
        assert (account.revealed, account.alone) == (len(mine), len(alone))
        assert account.alone_share == pytest.approx(len(alone) / records)
        assert account.source
        interval = wilson(len(alone), records)
        shown = account.as_dict()
        assert shown["alone_share_low"] == pytest.approx(interval.low, abs=1e-6)
        assert shown["alone_share_high"] == pytest.approx(interval.high, abs=1e-6)
        assert interval.low < account.alone_share < interval.high
    assert attribution.accounts[0].employee_id == world.clerk
    assert {a.employee_id for a in attribution.sources} == {world.clerk, world.courier}
    assert (by_id[world.clerk].role, by_id[world.courier].role) == ("warehouse_clerk", "courier")
    assert by_id[world.clerk].site_id == next(
        r["site_id"]
        for r in world.tables["employees"].to_pylist()
        if r["employee_id"] == world.clerk
    )


def test_the_evidence_is_the_log_entries_that_revealed_the_records(world: LeakWorld) -> None:
    first_seen = after_last(world.phone_reveals(world.clerk))
    leaked = sorted(world.revealed(world.clerk, first_seen))
    found = run(world, persons(world, leaked), first_seen)
    clerk = next(a for a in found.attribution.accounts if a.employee_id == world.clerk)
    expected = sorted(
        world.sequence[str(row["event_id"])]
        for row in world.phone_reveals(world.clerk)
        if row["ts"] < first_seen
    )
    assert list(clerk.evidence_sequences) == expected
    log = open_audit_log(world.settings)
    try:
        for seq in clerk.evidence_sequences[:20]:
            entry = decode_entry(log.entry(seq))
            assert (entry.actor, entry.action, entry.field) == (world.clerk, "reveal", "phone")
            assert entry.waybill_no in leaked
    finally:
        log.engine.dispose()


def test_reveals_after_the_file_first_appeared_do_not_count(world: LeakWorld) -> None:
    reveals = sorted(world.phone_reveals(world.clerk), key=lambda row: row["ts"])  # type: ignore[arg-type, return-value]
    leaked = sorted({str(row["waybill_no"]) for row in reveals})
    middle = reveals[len(reveals) // 2]["ts"] + timedelta(microseconds=1)  # type: ignore[operator]
    found = run(world, persons(world, leaked), middle)
    before = world.revealed(world.clerk, middle)
    assert 0 < len(before) < len(leaked)
    clerk = next(a for a in found.attribution.accounts if a.employee_id == world.clerk)
    assert clerk.revealed == len(before & set(leaked))
    log = open_audit_log(world.settings)
    try:
        assert all(decode_entry(log.entry(seq)).time < middle for seq in clerk.evidence_sequences)
    finally:
        log.engine.dispose()


def test_wilson_interval_matches_the_textbook() -> None:
    # Wilson (1927) for 81 of 263 at 95 %: 0.2553 .. 0.3662 (Newcombe 1998, table I method 3).
    interval = wilson(81, 263)
    assert interval.low == pytest.approx(0.2553, abs=1e-4)
    assert interval.high == pytest.approx(0.3662, abs=1e-4)
    assert wilson(0, 0).low == 0.0
    assert wilson(0, 0).high == 1.0
    assert wilson(0, 10).low == 0.0
