"""The one door decides by workflow facts, hands out the least it can, and audits everything."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from parcelguard.audit.entry import decode_entry
from parcelguard.core.masking import mask_name
from parcelguard.reveal.facts import RevealRequest
from tests.reveal.conftest import NOW, World


def ask(
    world: World, actor: str, index: int, field: str = "phone", purpose: str = "delivery", **kw: str
):
    request = RevealRequest(
        actor=actor,
        waybill_no=world.waybills[index].waybill_no,
        field=field,
        purpose=purpose,
        device_id=kw.pop("device_id", f"D-{actor}"),
        request_id=f"r-{actor}-{index}-{field}",
        **kw,
    )
    return world.service().reveal(request)


def audited(world: World) -> list:
    size = world.log.head().tree_size
    return [decode_entry(world.log.entry(i)) for i in range(size)]


def test_a_courier_gets_a_virtual_number_for_his_own_assigned_waybill(world: World) -> None:
    decision = ask(world, "C1", 0)
    assert decision.allowed
    assert decision.form == "virtual_number"
    assert decision.value is not None
    assert decision.value.startswith("1709")
    assert decision.value != world.waybills[0].recipient_phone
    assert decision.policy_ids == ("courier-assigned-phone",)
    holder = world.numbers.who_had(decision.value, NOW)
    assert holder is not None
    assert (holder.waybill_no, holder.employee_id, holder.device_id) == (
        world.waybills[0].waybill_no,
        "C1",
        "D-C1",
    )
    (entry,) = audited(world)
    assert (entry.actor, entry.decision, entry.reason, entry.policy_id) == (
        "C1",
        "allow",
        "assigned_courier",
        "courier-assigned-phone",
    )
    assert entry.sequence == decision.audit_index
    assert ask(world, "C1", 0).value == decision.value  # one number per recipient and courier


def test_the_courier_reads_the_address_he_delivers_to(world: World) -> None:
    decision = ask(world, "C1", 0, field="address")
    assert decision.form == "plaintext"
    assert decision.value == world.waybills[0].recipient_address


@pytest.mark.parametrize(
    ("actor", "index", "device"),
    [
        ("C2", 0, "D-C2"),  # a colleague's waybill
        ("C1", 1, "D-C1"),  # not assigned to him
        ("C1", 0, "D-K1"),  # someone else's device
        ("C1", 0, "UNREGISTERED"),
    ],
)
def test_couriers_get_nothing_outside_their_own_route_and_handheld(
    world: World, actor: str, index: int, device: str
) -> None:
    decision = ask(world, actor, index, device_id=device)
    assert not decision.allowed
    assert decision.value is None
    assert decision.reason == "no_matching_policy"
    assert audited(world)[-1].decision == "deny"


def test_a_departed_courier_is_denied_even_with_an_assignment(world: World) -> None:
    decision = ask(world, "X1", 0)
    assert (decision.allowed, decision.reason, decision.policy_ids) == (
        False,
        "account_inactive",
        ("inactive-account",),
    )


def test_clerks_agents_and_warehouse_staff_only_through_their_workflow(world: World) -> None:
    assert ask(world, "K1", 1, purpose="exception").form == "virtual_number"
    assert not ask(world, "K1", 0, purpose="exception").allowed  # no exception on it
    assert ask(world, "A1", 2, purpose="customer_service").allowed
    name = ask(world, "A1", 2, field="name", purpose="customer_service")
    assert (name.form, name.value) == ("masked", mask_name(world.waybills[2].recipient_name))
    assert not ask(world, "A1", 0, purpose="customer_service").allowed
    assert ask(world, "W1", 3, field="address", purpose="exception").form == "masked"
    assert not ask(world, "W1", 0, field="address", purpose="exception").allowed


def test_break_glass_needs_a_case_a_justification_and_a_second_approver(world: World) -> None:
    granted = ask(world, "O1", 4, purpose="investigation", case_id="CASE-1")
    assert (granted.form, granted.reason) == ("plaintext", "break_glass")
    assert granted.value == world.waybills[4].recipient_phone
    assert not ask(world, "O1", 4, purpose="investigation").allowed  # no case named
    assert not ask(world, "O2", 4, purpose="investigation", case_id="CASE-1").allowed
    assert not ask(world, "O1", 4, purpose="investigation", case_id="CASE-2").allowed
    assert not ask(world, "O1", 0, purpose="investigation", case_id="CASE-1").allowed
    assert audited(world)[0].reason == "break_glass"


def test_requests_that_cannot_be_right_are_denied_with_their_own_reason(world: World) -> None:
    service = world.service()

    def reason(actor: str, waybill: str, field: str = "phone") -> str:
        request = RevealRequest(actor, waybill, field, "delivery", device_id="D-C1")
        return service.reveal(request).reason

    assert reason("C1", "SF1234567890123") == "foreign_waybill"
    assert reason("C1", "13812345678") == "malformed_waybill"
    assert reason("C1", "PG999999999999") == "unknown_waybill"
    assert reason("NOBODY", world.waybills[0].waybill_no) == "unknown_actor"
    assert reason("Z1", world.waybills[0].waybill_no) == "unknown_role"
    assert reason("C1", world.waybills[0].waybill_no, field="salary") == "bad_request"
    entries = audited(world)
    assert len(entries) == 6
    assert entries[1].waybill_no == "malformed"  # a typed phone never enters the log
    assert {e.decision for e in entries} == {"deny"}


def test_if_the_audit_log_cannot_be_written_nothing_is_revealed(world: World) -> None:
    if world.engine.dialect.name != "sqlite":
        pytest.skip("the size-limited store is an SQLite file")
    from parcelguard.admin import open_audit_log

    full_log = open_audit_log(world.settings)

    @sa.event.listens_for(full_log.engine, "connect")
    def _limit(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count={pages}")

    full_log.engine.dispose()  # new connections get the limit
    service = world.service(audit_append=full_log.append)
    requests = [
        RevealRequest("C1", world.waybills[0].waybill_no, "address", "delivery", "D-C1"),
        RevealRequest(
            "O1", world.waybills[4].waybill_no, "phone", "investigation", "D-O1", case_id="CASE-1"
        ),
    ] * 400  # enough entries to need a new page
    decisions = service.reveal_batch(requests)
    assert {d.reason for d in decisions} == {"audit_unavailable"}
    assert all(d.value is None and not d.allowed for d in decisions)
    full_log.engine.dispose()


def test_a_batch_that_cannot_be_written_whole_leaves_nothing_behind(world: World) -> None:
    # One transaction a batch: guard windows, bindings and audit entries commit together or
    # not at all, so a full store neither reveals nor half-writes.
    if world.engine.dialect.name != "sqlite":
        pytest.skip("the size-limited store is an SQLite file")
    from parcelguard.audit.log import AuditLog
    from parcelguard.reveal.guard import Containments, Guard
    from parcelguard.reveal.guard.counters_store import StoreCounters
    from parcelguard.storage.schema import audit_entries, guard_counts, vnum_bindings

    engine = world.engine
    guard = Guard(StoreCounters(engine, flushed_by_a_later_commit=True), Containments(engine))
    service = world.service(audit_append=AuditLog(engine).append, guard=guard,
                            one_transaction=True)  # fmt: skip
    ok = service.reveal(RevealRequest("C1", world.waybills[0].waybill_no, "phone", "delivery",
                                      "D-C1"))  # fmt: skip
    assert ok.form == "virtual_number"

    def rows() -> tuple[int, ...]:
        with engine.connect() as conn:
            return tuple(
                int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
                for t in (audit_entries, guard_counts, vnum_bindings)
            )

    before = rows()

    @sa.event.listens_for(engine, "connect")
    def _limit(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count={pages}")

    engine.dispose()  # new connections get the limit
    requests = [
        RevealRequest("C1", world.waybills[0].waybill_no, "phone", "delivery", "D-C1"),
        RevealRequest("C1", world.waybills[0].waybill_no, "address", "delivery", "D-C1"),
    ] * 400  # enough entries to need a new page
    decisions = service.reveal_batch(requests)
    assert {d.reason for d in decisions} == {"audit_unavailable"}
    assert all(d.value is None and not d.allowed for d in decisions)
    sa.event.remove(engine, "connect", _limit)
    engine.dispose()
    assert rows() == before


def test_a_batch_decides_exactly_as_the_same_requests_one_by_one(world: World) -> None:
    wb = [w.waybill_no for w in world.waybills]
    requests = [
        RevealRequest("C1", wb[0], "phone", "delivery", "D-C1"),
        RevealRequest("C1", wb[1], "phone", "delivery", "D-C1"),
        RevealRequest("C2", wb[0], "phone", "delivery", "D-C2"),
        RevealRequest("K1", wb[1], "phone", "exception", "D-K1"),
        RevealRequest("A1", wb[2], "name", "customer_service", "D-A1"),
        RevealRequest("O1", wb[4], "phone", "investigation", "D-O1", case_id="CASE-1"),
        RevealRequest("O1", wb[4], "phone", "investigation", "D-O1", case_id="CASE-2"),
        RevealRequest("X1", wb[0], "phone", "delivery", "D-X1"),
        RevealRequest("C1", "SF1234567890123", "phone", "delivery", "D-C1"),
        RevealRequest("NOBODY", wb[0], "phone", "delivery", "D-C1"),
    ]
    service = world.service()
    batch = service.reveal_batch(requests)
    one_by_one = [service.reveal(request) for request in requests]
    assert [(d.allowed, d.form, d.reason) for d in batch] == [
        (d.allowed, d.form, d.reason) for d in one_by_one
    ]
    assert [d.allowed for d in batch] == [
        True,
        False,
        False,
        True,
        True,
        True,
        False,
        False,
        False,
        False,
    ]
    indices = [d.audit_index for d in batch]
    assert indices == list(range(len(requests)))  # one append, in request order


def test_a_label_token_is_redeemed_once_per_device_and_never_widens_rights(world: World) -> None:
    import secrets
    from datetime import timedelta

    from parcelguard.labels.token import LabelTokens

    tokens = LabelTokens(secrets.token_bytes(32))
    service = world.service(labels=tokens)
    wb = [w.waybill_no for w in world.waybills]
    token = tokens.mint(wb[0], NOW - timedelta(days=1), NOW + timedelta(days=13))

    def scan(actor: str, code: str):
        return service.redeem_label(
            code, RevealRequest(actor, "", "phone", "delivery", f"D-{actor}")
        )

    first = scan("C1", token)
    assert (first.allowed, first.form) == (True, "virtual_number")
    assert scan("C1", token).value == first.value  # the courier rescans
    assert scan("C2", token).reason == "token_replayed_other_device"
    expired = tokens.mint(wb[0], NOW - timedelta(days=20), NOW - timedelta(days=6))
    assert scan("C1", expired).reason == "token_expired"
    tampered = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    assert scan("C1", tampered).reason == "token_invalid"
    assert scan("C1", "not a token").reason == "token_malformed"
    other = tokens.mint(wb[1], NOW - timedelta(days=1), NOW + timedelta(days=13))
    assert scan("C1", other).reason == "no_matching_policy"  # not his parcel
    reasons = [e.reason for e in audited(world)]
    assert reasons == [
        "assigned_courier",
        "assigned_courier",
        "token_replayed_other_device",
        "token_expired",
        "token_invalid",
        "token_malformed",
        "no_matching_policy",
    ]


def test_a_phone_typed_as_a_waybill_never_enters_the_log_whatever_else_is_wrong(
    world: World,
) -> None:
    decision = world.service().reveal(RevealRequest("C1", "13812345678", "salary", "delivery"))
    assert decision.reason == "bad_request"
    assert audited(world)[-1].waybill_no == "malformed"


def test_a_stream_with_cedar_in_a_worker_decides_as_batches_do(world: World) -> None:
    from parcelguard.reveal.engine import PolicyWorker

    wb = [w.waybill_no for w in world.waybills]
    batches = [
        [
            RevealRequest("C1", wb[0], "phone", "delivery", "D-C1"),
            RevealRequest("C2", wb[0], "phone", "delivery", "D-C2"),
        ],
        [RevealRequest("K1", wb[1], "phone", "exception", "D-K1")],
        [
            RevealRequest("X1", wb[0], "phone", "delivery", "D-X1"),
            RevealRequest("C1", "13812345678", "phone", "delivery", "D-C1"),
            RevealRequest("A1", wb[2], "name", "customer_service", "D-A1"),
        ],
    ]
    service = world.service()
    expected = [[(d.allowed, d.form, d.reason) for d in service.reveal_batch(b)] for b in batches]
    with PolicyWorker(world.settings.policy_dir) as worker:
        streamed = list(service.reveal_stream(batches, worker))
    assert [[(d.allowed, d.form, d.reason) for d in b] for b in streamed] == expected
    assert [d.audit_index for b in streamed for d in b] == list(range(6, 12))  # in order
