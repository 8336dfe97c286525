"""The guard inside the one door, on both backends: step-up, containment, lifting, failing closed."""

from __future__ import annotations

import sqlalchemy as sa

from parcelguard.reveal.facts import RevealRequest
from parcelguard.reveal.guard import Containments, Guard, GuardConfig, MemoryNotifier
from parcelguard.reveal.guard.audit import lift
from parcelguard.reveal.guard.counters_redis import RedisCounters
from parcelguard.reveal.guard.counters_store import StoreCounters
from parcelguard.storage.schema import audit_entries
from tests.reveal.conftest import NOW, World

TIGHT = GuardConfig(quotas={"courier": (2, 5, 10)}, hard_factor=2.0)


def guard_for(world: World, config: GuardConfig = TIGHT) -> tuple[Guard, MemoryNotifier]:
    notifier = MemoryNotifier()
    guard = Guard(
        StoreCounters(world.engine), Containments(world.engine), config, notifier=notifier
    )
    return guard, notifier


def phone(world: World, actor: str = "C1", n: int = 0, ip: str = "10.1.1.5") -> RevealRequest:
    return RevealRequest(
        actor, world.waybills[n].waybill_no, "phone", "delivery", f"D-{actor}", "handheld", ip
    )


def audit_actions(world: World) -> list[str]:
    from parcelguard.audit.entry import decode_entry

    with world.engine.connect() as conn:
        rows = conn.execute(sa.select(audit_entries.c.entry).order_by(audit_entries.c.seq))
        return [decode_entry(bytes(row.entry)).action for row in rows]


def test_over_quota_steps_up_then_far_over_contains_and_alerts(world: World) -> None:
    guard, notifier = guard_for(world)
    service = world.service(guard=guard)
    answers = [service.reveal(phone(world)) for _ in range(6)]
    assert [a.guard_action for a in answers[:2]] == ["allow", "allow"]
    # Over the 10-minute quota of 2: a step-up, approved because the work explains it.
    assert answers[2].allowed
    assert answers[2].guard_action == "step_up"
    assert answers[2].guard_reasons == ("over_quota_10m",)
    assert answers[2].form == "virtual_number"
    # Past twice the quota: contained, with the alert raised once.
    assert not answers[4].allowed
    assert answers[4].reason == "guard_contained"
    assert "far_over_quota_10m" in answers[4].guard_reasons
    assert [c.employee_id for c in notifier.sent] == ["C1"]
    assert not answers[5].allowed
    assert answers[5].reason == "guard_contained"
    # Another courier is untouched; the containment is in the audit log.
    assert service.reveal(phone(world, "C2", 1)).guard_action in (None, "allow")
    assert audit_actions(world).count("contain") == 1


def test_a_containment_outlives_the_service_and_only_a_named_person_lifts_it(world: World) -> None:
    guard, _ = guard_for(world)
    service = world.service(guard=guard)
    for _ in range(5):
        service.reveal(phone(world))
    again, _ = guard_for(world)  # a restarted service: the containment is in the store
    restarted = world.service(guard=again)
    assert restarted.reveal(phone(world)).reason == "guard_contained"
    containments = Containments(world.engine)
    import pytest

    from parcelguard.core.errors import BadInput

    with pytest.raises(BadInput, match="staff id"):
        lift(containments, world.log.append, "C1", "guard", "checked", NOW)
    with pytest.raises(BadInput, match="write why"):
        lift(containments, world.log.append, "C1", "SEC-7", "  ", NOW)
    done, index = lift(containments, world.log.append, "C1", "SEC-7", "route covered", NOW)
    assert done.released_by == "SEC-7"
    assert index >= 0
    assert audit_actions(world)[-1] == "release"
    with pytest.raises(BadInput, match="not contained"):
        lift(containments, world.log.append, "C1", "SEC-7", "twice", NOW)
    assert containments.history(active_only=True) == []


def test_other_carriers_numbers_contain_the_account(world: World) -> None:
    guard, notifier = guard_for(world)
    service = world.service(guard=guard)
    probes = [
        RevealRequest("K1", f"SF1{n:011d}", "phone", "exception", "D-K1", "web", "10.2.0.9")
        for n in range(TIGHT.foreign_contain_per_day)
    ]
    answers = service.reveal_batch(probes)
    assert all(a.reason == "foreign_waybill" for a in answers)
    assert answers[-1].guard_action == "contain"
    assert [c.reasons for c in notifier.sent] == [("foreign_numbers",)]


def test_a_lost_redis_fails_closed_for_numbers_but_not_for_masks(world: World) -> None:
    lost = RedisCounters.from_url("redis://127.0.0.1:1/0")
    guard = Guard(lost, Containments(world.engine), TIGHT, notifier=MemoryNotifier())
    service = world.service(guard=guard)
    number = service.reveal(phone(world))
    assert not number.allowed
    assert number.reason == "guard_unavailable"
    name = service.reveal(
        RevealRequest("C1", world.waybills[0].waybill_no, "name", "delivery", "D-C1", "handheld")
    )
    assert name.allowed
    assert name.form == "masked"


def test_a_new_network_after_a_known_one_asks_the_supervisor(world: World) -> None:
    guard, _ = guard_for(world, GuardConfig())
    service = world.service(guard=guard)
    assert service.reveal(phone(world, ip="10.1.1.5")).guard_action == "allow"
    moved = service.reveal(phone(world, ip="203.0.113.7"))
    assert moved.guard_action == "step_up"
    assert moved.guard_reasons == ("new_network",)
    assert moved.allowed  # the assignment explains it, so the supervisor approves
    assert service.reveal(phone(world, ip="203.0.113.9")).guard_action == "allow"  # same /24


def test_the_facts_carry_the_site_kind_and_where_the_parcel_is(world: World) -> None:
    from parcelguard.reveal.facts import Facts, gather

    with world.engine.connect() as conn:
        facts = gather(conn, phone(world, "W1", 3), NOW)
        at_station = gather(conn, phone(world, "C1", 0), NOW)
    assert isinstance(facts, Facts)
    assert isinstance(at_station, Facts)
    assert (facts.site_kind, facts.site_adcode) == ("warehouse", "420100")
    assert facts.where_adcode == "420100"  # the parcel is in W1's warehouse now
    assert facts.dest_adcode == world.waybills[3].dest_adcode
    assert facts.category == world.waybills[3].category
    assert (at_station.site_kind, at_station.where_adcode) == ("station", "421002")


def test_numbers_asked_in_sheet_order_contain_the_account(world: World) -> None:
    """A clerk asking for waybills in ascending order, nothing explaining them: contained."""
    config = GuardConfig(sheet_run_step_up=3, sheet_run_contain=4, denied_contain_per_10min=50)
    guard, notifier = guard_for(world, config)
    service = world.service(guard=guard)
    numbers = sorted(w.waybill_no for w in world.waybills)

    def ask(actor: str, number: str) -> RevealRequest:
        return RevealRequest(actor, number, "phone", "exception", f"D-{actor}", "web", "10.3.0.1")

    backwards = [service.reveal(ask("A1", n)) for n in reversed(numbers)]
    assert all(a.guard_action != "contain" for a in backwards)
    forwards = [service.reveal(ask("K1", n)) for n in numbers[2:]]
    assert forwards[-1].guard_action == "contain"  # denied by the policy, and contained
    assert "sheet_order_run" in forwards[-1].guard_reasons
    assert [c.employee_id for c in notifier.sent] == ["K1"]
    explained = ask("K1", world.waybills[1].waybill_no)  # its open exception at K1's station
    assert service.reveal(explained).reason == "guard_contained"
