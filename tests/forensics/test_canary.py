"""Canary records: planted through the vault, reachable only through their slice, reported apart."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pyarrow.compute as pc
import pytest
import sqlalchemy as sa

from parcelguard.admin import key_provider, open_audit_log
from parcelguard.audit.entry import AuditEntry
from parcelguard.config import Settings
from parcelguard.core.clock import carrier_day
from parcelguard.core.errors import BadInput
from parcelguard.core.phone import normalise_cn_mobile
from parcelguard.forensics.canary import CanaryConfig, list_canaries, plant
from parcelguard.reveal.engine import CedarRequest, PolicyEngine
from parcelguard.reveal.facts import Facts, RevealRequest, gather
from parcelguard.storage.schema import assignments, parcel_exceptions, parcel_status, waybills
from parcelguard.vault import Vault
from parcelguard.vnum import VirtualNumbers
from parcelguard.vnum.numbers import pool_numbers
from tests.forensics.leak_world import LeakWorld, build, persons, run, table, unrevealed


@pytest.fixture
def world(settings: Settings) -> Iterator[LeakWorld]:
    built = build(settings)
    yield built
    built.engine.dispose()


def _end(world: LeakWorld) -> datetime:
    last: datetime = pc.max(world.tables["waybills"]["created_at"]).as_py()
    return last.astimezone(UTC)


def _vault(world: LeakWorld) -> Vault:
    end = _end(world)
    return Vault(
        world.engine,
        key_provider(world.settings),
        retention_days=10_000,
        nonce_budget=2**30,
        clock=lambda: end + timedelta(hours=1),
    )


def _station(world: LeakWorld) -> str:
    return next(r["site_id"] for r in world.tables["sites"].to_pylist() if r["kind"] == "station")


def _plant(world: LeakWorld, kind: str, value: str, count: int, **kw: object):  # type: ignore[no-untyped-def]
    return plant(
        _vault(world),
        kind,
        value,
        count,
        now=_end(world) - timedelta(hours=2),
        waybill_pattern=world.settings.waybill_pattern,
        seed=11,
        **kw,  # type: ignore[arg-type]
    )


def test_a_station_canary_is_a_held_parcel_that_nobody_delivers(world: LeakWorld) -> None:
    numbers = VirtualNumbers(world.engine)
    # A pool provisioned before the block was set aside: it may never hand canaries out.
    numbers.provision(pool_numbers("1708", 200, seed=1))
    station = _station(world)
    result = _plant(world, "station", station, 5)
    planted = [c.waybill_no for c in result.planted]
    assert len(set(planted)) == 5
    assert all(p.startswith("1708") and len(p) == 11 for p in result.phones)
    assert not any(numbers.knows(p) for p in result.phones)
    assert all("*" in m for m in result.phones_masked)
    assert "1708" not in str(result.as_dict()).replace(str(result.phones_masked), "")
    with world.engine.connect() as conn:
        status = conn.execute(
            sa.select(parcel_status).where(parcel_status.c.waybill_no.in_(planted))
        ).all()
        assert {(r.current_site_id, r.dispatched_at, r.delivered_at) for r in status} == {
            (station, None, None)
        }
        opened = conn.execute(
            sa.select(parcel_exceptions).where(parcel_exceptions.c.waybill_no.in_(planted))
        ).all()
        assert {(r.site_id, r.closed_at) for r in opened} == {(station, None)}
        assert not conn.execute(
            sa.select(assignments).where(assignments.c.waybill_no.in_(planted))
        ).all()
        stored = conn.execute(
            sa.select(waybills.c.dest_site_id, waybills.c.phone_ct, waybills.c.phone_masked).where(
                waybills.c.waybill_no.in_(planted)
            )
        ).all()
    assert {r.dest_site_id for r in stored} == {station}
    assert all(r.phone_ct is not None and "*" in r.phone_masked for r in stored)
    assert {c.waybill_no: c.status for c in list_canaries(world.engine)} == dict.fromkeys(
        planted, "live"
    )


def test_only_the_station_reaches_a_station_canary_under_the_default_policies(
    world: LeakWorld,
) -> None:
    station = _station(world)
    (canary,) = _plant(world, "station", station, 1).planted
    staff = world.tables["employees"].to_pylist()
    policies = PolicyEngine.load(world.settings.policy_dir)
    moment = _end(world) - timedelta(hours=1)

    def decide(employee: str, purpose: str) -> tuple[bool, str | None]:
        request = RevealRequest(
            employee, canary.waybill_no, "phone", purpose, f"W{employee}", "web"
        )
        with world.engine.connect() as conn:
            facts = gather(conn, request, moment)
        assert isinstance(facts, Facts)
        (outcome,) = policies.decide(
            [
                CedarRequest(
                    employee,
                    facts.principal_attrs(),
                    canary.waybill_no,
                    facts.resource_attrs(),
                    facts.context(request, int(moment.timestamp())),
                )
            ]
        )
        return outcome.allowed, outcome.form

    clerks = [
        r["employee_id"]
        for r in staff
        if r["site_id"] == station and r["role"] == "station_clerk" and r["left_on"] is None
    ]
    assert clerks, "the world has a station clerk at the station"
    assert decide(clerks[0], "exception") == (True, "virtual_number")
    for row in staff:
        if row["site_id"] != station and row["role"] in ("courier", "station_clerk", "cs_agent"):
            purpose = {"courier": "delivery", "cs_agent": "customer_service"}.get(
                row["role"], "exception"
            )
            assert not decide(row["employee_id"], purpose)[0], row["role"]


def test_a_canary_in_a_leak_is_reported_apart_and_narrows_the_source(world: LeakWorld) -> None:
    station = _station(world)
    result = _plant(world, "station", station, 2)
    first_seen = _end(world) + timedelta(hours=3)
    nobody = unrevealed(world, 30, first_seen)  # the log explains none of these
    leaked = persons(world, nobody).to_pylist()
    bait = result.phones[0]
    leaked.append({"phone_bidx": world.indexer.phone(normalise_cn_mobile(bait))})
    found = run(world, table(leaked), first_seen)

    assert found.match.matched_persons == 30  # the canary is never counted as a person
    assert found.match.canary_persons == 1
    (hit,) = found.match.canaries
    assert (hit.waybill_no, hit.slice_kind, hit.slice_value) == (
        result.planted[0].waybill_no,
        "station",
        station,
    )
    assert found.attribution.unexplained == 30  # the log alone names nobody...
    (canary,) = found.attribution.canaries
    at_station = sorted(
        r["employee_id"] for r in world.tables["employees"].to_pylist() if r["site_id"] == station
    )
    assert list(canary.slice_accounts) == at_station  # ...the canary narrows it to the station
    assert canary.revealed_by == ()


def test_whoever_revealed_a_canary_is_ranked_with_it(world: LeakWorld) -> None:
    station = _station(world)
    result = _plant(world, "station", station, 1)
    (planted,) = result.planted
    clerk = next(
        r["employee_id"]
        for r in world.tables["employees"].to_pylist()
        if r["site_id"] == station and r["role"] == "station_clerk"
    )
    log = open_audit_log(world.settings)
    try:
        (seq,) = log.append(
            [
                AuditEntry.at(
                    0,
                    _end(world) - timedelta(hours=1),
                    actor=clerk,
                    action="reveal",
                    waybill_no=planted.waybill_no,
                    field="phone",
                    purpose="exception",
                    decision="allow",
                    reason="legacy_lookup",
                    policy_id="legacy-station-parcels",
                )
            ]
        )
    finally:
        log.engine.dispose()
    bait = {"phone_bidx": world.indexer.phone(result.phones[0])}
    found = run(world, table([bait]), _end(world) + timedelta(hours=3))
    (canary,) = found.attribution.canaries
    assert (canary.revealed_by, canary.evidence_sequences) == ((clerk,), (seq,))
    account = next(a for a in found.attribution.accounts if a.employee_id == clerk)
    assert account.canary_waybills == (planted.waybill_no,)
    assert account.revealed == 0  # bait, not a record of a real person


def test_views_that_cannot_be_the_source_are_listed_apart_and_not_ranked(world: LeakWorld) -> None:
    """Slice staff see a canary masked, or call it through a virtual number, in their work;
    neither can be the source of a file that holds its real phone."""
    station = _station(world)
    result = _plant(world, "station", station, 1)
    (planted,) = result.planted
    staff = [
        r["employee_id"] for r in world.tables["employees"].to_pylist() if r["site_id"] == station
    ]
    viewer, caller, revealer = staff[0], staff[1], staff[2]
    at = _end(world) - timedelta(hours=1)
    log = open_audit_log(world.settings)
    try:
        masked_seq, vnum_seq, plain_seq = log.append(
            [
                AuditEntry.at(
                    0,
                    at,
                    actor=who,
                    action="reveal",
                    waybill_no=planted.waybill_no,
                    field="phone",
                    purpose="exception",
                    decision="allow",
                    reason="test",
                    policy_id=policy,
                )
                for who, policy in (
                    (viewer, "warehouse-clerk-parcel-on-site"),  # @form("masked")
                    (caller, "station-clerk-open-exception"),  # @form("virtual_number")
                    (revealer, "investigation-break-glass"),  # @form("plaintext")
                )
            ]
        )
    finally:
        log.engine.dispose()
    bait = {"phone_bidx": world.indexer.phone(result.phones[0])}
    found = run(world, table([bait]), _end(world) + timedelta(hours=3))
    (canary,) = found.attribution.canaries
    assert canary.revealed_by == (revealer,)
    assert canary.evidence_sequences == (plain_seq,)
    assert canary.viewed_by == tuple(sorted((viewer, caller)))
    assert canary.as_dict()["viewed_by"] == sorted((viewer, caller))
    ranked = {a.employee_id: a for a in found.attribution.accounts}
    assert ranked[revealer].canary_waybills == (planted.waybill_no,)
    assert viewer not in ranked
    assert caller not in ranked
    assert not {masked_seq, vnum_seq} & set(canary.evidence_sequences)


def test_a_sender_canary_is_one_of_the_senders_parcels_and_at_no_site(world: LeakWorld) -> None:
    sender = world.tables["waybills"]["sender_id"][0].as_py()
    result = _plant(world, "sender", sender, 3)
    planted = [c.waybill_no for c in result.planted]
    with world.engine.connect() as conn:
        rows = conn.execute(
            sa.select(waybills.c.sender_id, waybills.c.category).where(
                waybills.c.waybill_no.in_(planted)
            )
        ).all()
        assert not conn.execute(
            sa.select(parcel_status).where(parcel_status.c.waybill_no.in_(planted))
        ).all()
    category = next(
        r["category"] for r in world.tables["senders"].to_pylist() if r["sender_id"] == sender
    )
    assert {(r.sender_id, r.category) for r in rows} == {(sender, category)}


def test_a_shredded_canary_is_listed_as_shredded(world: LeakWorld) -> None:
    planted = _plant(world, "station", _station(world), 1).planted[0]
    vault = _vault(world)
    vault.shred(before=carrier_day(_end(world)) + timedelta(days=1))
    assert [c.status for c in list_canaries(world.engine)] == ["shredded"]
    assert planted.waybill_no in {c.waybill_no for c in list_canaries(world.engine)}


def test_bad_slices_and_ranges_are_named(world: LeakWorld) -> None:
    hub = next(
        (r["site_id"] for r in world.tables["sites"].to_pylist() if r["kind"] != "station"), None
    )
    with pytest.raises(BadInput, match="--station NOPE: no such site"):
        _plant(world, "station", "NOPE", 1)
    if hub is not None:
        with pytest.raises(BadInput, match="not a delivery station"):
            _plant(world, "station", hub, 1)
    with pytest.raises(BadInput, match="--sender NOPE"):
        _plant(world, "sender", "NOPE", 1)
    with pytest.raises(BadInput, match="--count 0"):
        _plant(world, "station", _station(world), 0)
    with pytest.raises(BadInput, match="PARCELGUARD_CANARY_PREFIXES"):
        CanaryConfig.from_env({"PARCELGUARD_CANARY_PREFIXES": "1209"})
    assert CanaryConfig.from_env({"PARCELGUARD_CANARY_PREFIXES": "1709, 17180"}).prefixes == (
        "1709",
        "17180",
    )
    assert CanaryConfig.from_env({}).prefixes == ("1708",)  # not the pool's usual 1709
    # A block must lie strictly inside a virtual-number range the carrier controls.
    with pytest.raises(BadInput, match="170 covers the whole virtual-number range 170"):
        CanaryConfig.from_env({"PARCELGUARD_CANARY_PREFIXES": "170"})
    with pytest.raises(BadInput, match="1718 covers the whole virtual-number range 1718"):
        CanaryConfig.from_env(
            {"PARCELGUARD_CANARY_PREFIXES": "1718", "PARCELGUARD_VNUM_PREFIXES": "1718"}
        )
    with pytest.raises(BadInput, match=r"1391 is outside the virtual-number ranges \(170, 171"):
        CanaryConfig.from_env({"PARCELGUARD_CANARY_PREFIXES": "1391"})
    with pytest.raises(BadInput, match="1708 is outside the virtual-number ranges"):
        CanaryConfig.from_env({"PARCELGUARD_VNUM_PREFIXES": "1718"})
    assert list_canaries(world.engine) == []


def test_a_failed_put_leaves_no_canary_row_behind(
    world: LeakWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    def counts() -> tuple[int, int]:
        with world.engine.connect() as conn:
            return tuple(  # type: ignore[return-value]
                conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                for t in (parcel_status, parcel_exceptions)
            )

    def broken(self: Vault, batch: object) -> None:
        raise BadInput("the batch holds no waybills")

    before = counts()
    monkeypatch.setattr(Vault, "put", broken)
    with pytest.raises(BadInput):
        _plant(world, "station", _station(world), 2)
    assert list_canaries(world.engine) == []
    assert counts() == before
