"""Matching a leaked file to our waybills by blind index: what is ours, and the figures.

Expected figures are computed here from the simulated world's own tables, not from the store.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pyarrow.compute as pc
import pytest

from parcelguard.admin import key_provider
from parcelguard.config import Settings
from parcelguard.core.clock import carrier_day
from parcelguard.core.errors import BadInput
from parcelguard.forensics.attribute import match_case, snapshot
from parcelguard.forensics.case import CaseDir
from parcelguard.forensics.match import find_matches
from parcelguard.simulate.reference import province_names
from parcelguard.vault import Vault
from parcelguard.vnum import VirtualNumbers
from parcelguard.vnum.numbers import pool_numbers
from tests.forensics.leak_world import LeakWorld, build, persons, run, table


@pytest.fixture
def world(settings: Settings) -> Iterator[LeakWorld]:
    built = build(settings)
    yield built
    built.engine.dispose()


def _end(world: LeakWorld) -> datetime:
    last: datetime = pc.max(world.tables["waybills"]["created_at"]).as_py()
    return last.astimezone(UTC)


def test_ours_by_month_category_province_and_freshness(world: LeakWorld) -> None:
    first_seen = _end(world) + timedelta(hours=6)
    leaked = sorted(world.recipients)[::7]
    renamed = leaked[::5]
    found = run(world, persons(world, leaked, strangers=40, renamed=renamed), first_seen).match

    assert (found.persons, found.matched_persons, found.matched_waybills) == (
        len(leaked) + 40,
        len(leaked),
        len(leaked),
    )
    assert found.by_match_kind["phone_only"] == len(renamed)
    assert found.by_match_kind["strong"] == len(leaked) - len(renamed)
    mine = [world.recipients[no] for no in leaked]
    senders = dict(
        zip(
            world.tables["senders"]["sender_id"].to_pylist(),
            world.tables["senders"]["category"].to_pylist(),
            strict=True,
        )
    )
    assert found.by_category == dict(sorted(Counter(senders[w.sender_id] for w in mine).items()))
    names = province_names()
    assert found.by_province == dict(
        sorted(Counter(names[w.dest_adcode[:2]] for w in mine).items())
    )
    months = Counter(carrier_day(w.created_at).strftime("%Y-%m") for w in mine)
    assert found.by_created_month == dict(sorted(months.items()))
    ages = [(first_seen - w.created_at).total_seconds() / 86_400 for w in mine]
    assert found.freshness_days["median"] == pytest.approx(statistics.median(ages), abs=0.01)
    assert found.freshness_days["max"] == pytest.approx(max(ages), abs=0.01)
    assert sum(found.freshness_histogram.values()) == len(leaked)
    assert found.freshness_histogram["0-1"] == sum(age < 1 for age in ages)


def test_waybills_created_after_the_file_appeared_are_set_aside(world: LeakWorld) -> None:
    ordered = sorted(world.recipients.values(), key=lambda w: w.created_at)
    cut = ordered[len(ordered) // 2].created_at
    found = run(world, persons(world, [w.waybill_no for w in ordered]), cut).match
    later = sum(w.created_at > cut for w in ordered)
    assert found.set_aside["waybills_created_after_first_seen"] == later
    assert found.matched_persons == len(ordered) - later


def test_a_waybill_number_in_the_file_narrows_a_repeat_recipients_matches(
    world: LeakWorld,
) -> None:
    # A repeat recipient: two waybills of one person (same phone and name) in the vault.
    first, second = sorted(world.recipients)[:2]
    one = world.recipients[first]
    vault = Vault(
        world.engine,
        key_provider(world.settings),
        retention_days=10_000,
        nonce_budget=2**30,
        clock=lambda: _end(world) + timedelta(hours=1),
    )
    twin = world.recipients[second]
    vault.put([_copy(twin, one, "PG9990000001")])
    first_seen = _end(world) + timedelta(hours=6)
    plain = run(world, persons(world, [first]), first_seen, "plain")
    assert plain.match.matched_waybills == 2
    named = run(world, persons(world, [first], with_waybill_no=[first]), first_seen, "named")
    assert (named.match.matched_persons, named.match.matched_waybills) == (1, 1)


def _copy(template: object, recipient: object, waybill_no: str) -> object:
    from dataclasses import replace

    return replace(
        template,  # type: ignore[type-var]
        waybill_no=waybill_no,
        recipient_name=recipient.recipient_name,  # type: ignore[attr-defined]
        recipient_phone=recipient.recipient_phone,  # type: ignore[attr-defined]
    )


def test_a_shredded_day_no_longer_matches_by_phone_but_still_by_waybill_number(
    world: LeakWorld,
) -> None:
    end = _end(world)
    last_day = carrier_day(end)
    vault = Vault(
        world.engine,
        key_provider(world.settings),
        retention_days=10_000,
        nonce_budget=2**30,
        clock=lambda: end + timedelta(hours=1),
    )
    shredded = vault.shred(before=last_day)
    assert shredded.waybills_shredded > 0
    old = sorted(no for no, w in world.recipients.items() if carrier_day(w.created_at) < last_day)
    new = sorted(no for no, w in world.recipients.items() if carrier_day(w.created_at) >= last_day)
    leaked = old[:30] + new[:30]
    first_seen = end + timedelta(hours=2)
    by_phone = run(world, persons(world, leaked), first_seen, "phone").match
    assert by_phone.matched_persons == 30  # shredding cleared the old days' blind indexes
    by_number = run(world, persons(world, leaked, with_waybill_no=old[:10]), first_seen, "no")
    assert by_number.match.matched_persons == 40
    assert by_number.match.by_match_kind["waybill_no"] == 10


def test_a_virtual_number_in_the_file_names_its_waybill_and_employee(world: LeakWorld) -> None:
    numbers = VirtualNumbers(world.engine)
    numbers.provision(pool_numbers("170", 20, seed=3))
    courier = world.courier
    waybill_no = sorted(world.recipients)[3]
    bound_at = _end(world) - timedelta(hours=3)
    binding = numbers.bind(
        waybill_no, courier, f"H{courier}", bound_at + timedelta(days=1), bound_at
    )
    first_seen = _end(world) + timedelta(hours=6)
    found = run(world, persons(world, [], virtual_numbers={binding.number: ""}), first_seen)
    assert found.match.by_match_kind["virtual_number"] == 1
    (account,) = [a for a in found.attribution.accounts if a.revealed]
    assert (account.employee_id, account.alone, account.vnum_bindings) == (
        courier,
        1,
        (binding.binding_id,),
    )
    # Bound only after the file appeared: the number explains nothing.
    early = run(
        world,
        persons(world, [], virtual_numbers={binding.number: ""}),
        bound_at - timedelta(minutes=1),
        "early",
    )
    assert early.match.matched_persons == 0
    assert early.match.set_aside["virtual_numbers_unbound"] == 1


def test_the_index_join_and_the_store_scan_find_the_same_pairs_in_any_chunks(
    world: LeakWorld,
) -> None:
    first_seen = _end(world) + timedelta(hours=6)
    leaked = persons(world, sorted(world.recipients)[::3], strangers=10)
    key = [("person_id", "ascending"), ("waybill_no", "ascending")]
    with snapshot(world.engine) as conn:
        found = [
            find_matches(conn, leaked, first_seen, strategy=strategy, chunk=chunk).pairs.sort_by(
                key
            )
            for strategy, chunk in (("join", 50_000), ("join", 7), ("scan", 50_000), ("scan", 7))
        ]
        with pytest.raises(BadInput, match="strategy"):
            find_matches(conn, leaked, first_seen, strategy="guess")
    assert found[0].num_rows == len(sorted(world.recipients)[::3])
    assert all(table.equals(found[0]) for table in found[1:])


def test_match_json_is_written_and_holds_no_plaintext(world: LeakWorld) -> None:
    first_seen = _end(world) + timedelta(hours=6)
    leaked = sorted(world.recipients)[:50]
    run(world, persons(world, leaked), first_seen)
    text = CaseDir.under(world.settings.home, "leak").match_file.read_text(encoding="utf-8")
    data = json.loads(text)
    assert data["match"]["matched_persons"] == 50
    for no in leaked:
        w = world.recipients[no]
        assert w.recipient_phone not in text
        assert w.recipient_name not in text
        assert w.recipient_phone[-4:] + '"' not in text


def test_a_case_without_first_seen_is_refused_by_name(world: LeakWorld) -> None:
    case = CaseDir.under(world.settings.home, "undated")
    case.write_json(case.case_file, {"source": {}})
    case.write_persons(table([]))
    with pytest.raises(BadInput, match=r"undated.*first_seen"):
        match_case(world.settings, case)
    case.write_json(case.case_file, {"first_seen": "2016-10-03 08:00"})
    with pytest.raises(BadInput, match="UTC offset"):
        match_case(world.settings, case)
    assert not case.match_file.exists()
