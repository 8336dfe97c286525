"""The pool in the store (both backends): bind, reuse, exhaust, expire, quarantine, attribute."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from parcelguard.core.errors import BadInput
from parcelguard.storage.schema import devices, vnum_bindings, vnum_pool
from parcelguard.vnum import Binding, DeviceNotRegistered, PoolExhausted, VirtualNumbers
from tests.vnum.conftest import DAY, NUMBERS, QUARANTINE, T0, register

W1, W2 = "PG316508274413", "PG316508274420"


def bind(vnums: VirtualNumbers, waybill: str, who: int, *, at=T0, days: int = 3) -> Binding:
    return vnums.bind(waybill, f"E{who}", f"D{who}", at + days * DAY, at)


def pool_row(vnums: VirtualNumbers, number: str) -> sa.Row:
    with vnums.engine.connect() as conn:
        return conn.execute(sa.select(vnum_pool).where(vnum_pool.c.number == number)).one()


# -- provisioning ------------------------------------------------------------------------------


def test_provision_is_idempotent_and_normalises(vnums: VirtualNumbers) -> None:
    first = vnums.provision(NUMBERS[:5])
    assert (first.given, first.added, first.pool_size) == (5, 5, 5)
    again = vnums.provision(["+86 170 9000 0001", *NUMBERS[3:7], NUMBERS[6]])
    assert (again.added, again.pool_size) == (2, 7)
    assert vnums.knows("170-9000-0007")
    assert not vnums.knows(NUMBERS[7])


def test_provision_is_all_or_nothing_and_names_the_bad_entry(vnums: VirtualNumbers) -> None:
    with pytest.raises(BadInput, match=r"numbers #3: has 10 digits") as caught:
        vnums.provision([NUMBERS[0], NUMBERS[1], "1709000000", NUMBERS[2]])
    assert "1709000000" not in caught.value.message
    assert vnums.counts(T0).total == 0


def test_provision_refuses_a_number_of_a_canary_block(vnums: VirtualNumbers) -> None:
    guarded = VirtualNumbers(vnums.engine, quarantine=QUARANTINE, reserved=["17085"])
    with pytest.raises(BadInput, match=r"numbers #2: in the canary block 17085") as caught:
        guarded.provision([NUMBERS[0], "170 8512 3456", NUMBERS[1]])
    assert "3456" not in caught.value.message
    assert guarded.counts(T0).total == 0  # all or nothing
    assert guarded.provision(["17084999999", "17086000000"]).added == 2  # around the block
    with pytest.raises(BadInput, match="prefixes: prefix '85'"):
        VirtualNumbers(vnums.engine, reserved=["85"])


# -- binding ----------------------------------------------------------------------------------


def test_a_live_binding_is_reused_and_its_validity_only_grows(vnums: VirtualNumbers) -> None:
    vnums.provision(NUMBERS[:3])
    first = bind(vnums, W1, 1)
    same = vnums.bind(W1, "E1", "D1", T0 + 5 * DAY, T0 + DAY)
    assert (same.binding_id, same.number) == (first.binding_id, first.number)
    assert same.valid_until == T0 + 5 * DAY
    shorter = vnums.bind(W1, "E1", "D1", T0 + 2 * DAY, T0 + DAY)
    assert shorter.valid_until == T0 + 5 * DAY
    assert len(vnums.history(first.number)) == 1
    # the number rests until the extended validity plus quarantine
    assert pool_row(vnums, first.number).quarantined_until == T0 + 5 * DAY + QUARANTINE


def test_each_employee_gets_their_own_number_for_a_recipient(vnums: VirtualNumbers) -> None:
    vnums.provision(NUMBERS[:4])
    courier, clerk = bind(vnums, W1, 1), bind(vnums, W1, 2)
    assert courier.number != clerk.number
    register(vnums.engine, "D1-spare", "E1")
    spare = vnums.bind(W1, "E1", "D1-spare", T0 + DAY, T0)
    assert spare.number not in {courier.number, clerk.number}  # a device is part of the key
    assert bind(vnums, W2, 1).number not in {courier.number, clerk.number, spare.number}


def test_numbers_are_chosen_least_recently_used(vnums: VirtualNumbers) -> None:
    vnums.provision(NUMBERS[:3])
    first = bind(vnums, W1, 1, days=1)
    assert first.number == NUMBERS[0]  # never used, lowest first: deterministic
    vnums.release(first.binding_id, T0 + timedelta(hours=1))
    second = bind(vnums, W1, 2, at=T0 + timedelta(hours=2))
    assert second.number == NUMBERS[1]
    later = T0 + 40 * DAY  # both rested; NUMBERS[2] was never used, so it goes first
    assert bind(vnums, W2, 3, at=later).number == NUMBERS[2]
    assert bind(vnums, W2, 4, at=later).number == NUMBERS[0]  # its rest ended first
    assert bind(vnums, W2, 5, at=later).number == NUMBERS[1]


def test_an_exhausted_pool_is_its_own_error(vnums: VirtualNumbers) -> None:
    vnums.provision(NUMBERS[:2])
    bind(vnums, W1, 1)
    bind(vnums, W1, 2)
    with pytest.raises(PoolExhausted, match="2 in the pool, 2 bound, 0 in quarantine") as caught:
        bind(vnums, W1, 3)
    assert caught.value.code == "vnum_pool_exhausted"
    assert bind(vnums, W1, 1).number  # reuse needs no free number
    with vnums.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(vnum_bindings)).scalar() == 2


def test_binding_needs_the_employees_own_live_device(vnums: VirtualNumbers) -> None:
    vnums.provision(NUMBERS[:2])
    with pytest.raises(
        DeviceNotRegistered, match="device_id D2: not a registered device of employee E1"
    ):
        vnums.bind(W1, "E1", "D2", T0 + DAY, T0)
    with pytest.raises(DeviceNotRegistered, match="device_id NOPE"):
        vnums.bind(W1, "E1", "NOPE", T0 + DAY, T0)
    register(vnums.engine, "D-old", "E1", revoked_at=T0 - timedelta(hours=1))
    with pytest.raises(DeviceNotRegistered, match="revoked") as caught:
        vnums.bind(W1, "E1", "D-old", T0 + DAY, T0)
    assert caught.value.code == "device_revoked"
    assert vnums.counts(T0).free == 2


def test_a_live_binding_is_not_reused_once_its_device_is_revoked(vnums: VirtualNumbers) -> None:
    """The reuse path reads without the write lock; it must still see a revocation."""
    vnums.provision(NUMBERS[:2])
    first = bind(vnums, W1, 1)
    assert bind(vnums, W1, 1, at=T0 + timedelta(hours=1)).number == first.number
    with vnums.engine.begin() as conn:
        conn.execute(
            devices.update()
            .where(devices.c.device_id == "D1")
            .values(revoked_at=T0 + timedelta(hours=2))
        )
    with pytest.raises(DeviceNotRegistered) as caught:
        bind(vnums, W1, 1, at=T0 + timedelta(hours=3))
    assert caught.value.code == "device_revoked"


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (("", "E1", "D1", T0 + DAY, T0), "waybill_no: missing"),
        ((W1, "E" * 65, "D1", T0 + DAY, T0), "employee_id: longer than 64"),
        ((W1, "E1", "D\n1", T0 + DAY, T0), "device_id: contains control characters"),
        ((W1, "E1", "D1", T0, T0), "valid_until .*: must be after now"),
        ((W1, "E1", "D1", (T0 + DAY).replace(tzinfo=None), T0), "valid_until: give a time zone"),
    ],
)
def test_bad_bind_arguments_are_named(vnums: VirtualNumbers, args: tuple, problem: str) -> None:
    vnums.provision(NUMBERS[:1])
    with pytest.raises(BadInput, match=problem):
        vnums.bind(*args)


# -- expiry, release, quarantine -------------------------------------------------------------


def test_expiry_and_quarantine_before_the_number_is_recycled(vnums: VirtualNumbers) -> None:
    vnums.provision(NUMBERS[:1])
    first = bind(vnums, W1, 1, days=2)
    end = T0 + 2 * DAY
    # Ran out of validity but expire() has not run: the number still rests.
    with pytest.raises(PoolExhausted):
        bind(vnums, W2, 2, at=end + DAY)
    result = vnums.expire(end + DAY)
    assert (result.released, result.numbers) == (1, 1)
    assert vnums.expire(end + DAY).released == 0
    (released,) = vnums.history(first.number)
    assert released.released_at == end  # when it stopped routing, not when the job ran
    assert pool_row(vnums, first.number).quarantined_until == end + QUARANTINE
    counts = vnums.counts(end + DAY)
    assert (counts.bound, counts.quarantined, counts.free) == (0, 1, 0)
    with pytest.raises(PoolExhausted):
        bind(vnums, W2, 2, at=end + QUARANTINE - timedelta(seconds=1))
    recycled = bind(vnums, W2, 2, at=end + QUARANTINE)
    assert recycled.number == first.number
    assert [b.employee_id for b in vnums.history(first.number)] == ["E1", "E2"]


def test_an_early_release_starts_the_quarantine_at_once(vnums: VirtualNumbers) -> None:
    vnums.provision(NUMBERS[:1])
    first = bind(vnums, W1, 1, days=10)
    delivered = T0 + DAY
    released = vnums.release(first.binding_id, delivered)
    assert released.released_at == delivered
    assert vnums.release(first.binding_id, delivered + DAY) == released  # idempotent
    assert pool_row(vnums, first.number).quarantined_until == delivered + QUARANTINE
    with pytest.raises(PoolExhausted):
        bind(vnums, W2, 2, at=delivered + QUARANTINE - timedelta(seconds=1))
    assert bind(vnums, W2, 2, at=delivered + QUARANTINE).number == first.number


def test_a_number_is_never_handed_to_another_employee_for_the_same_recipient(
    vnums: VirtualNumbers,
) -> None:
    vnums.provision(NUMBERS[:2])
    courier = bind(vnums, W1, 1)
    vnums.release(courier.binding_id, T0 + timedelta(minutes=5))
    clerk = bind(vnums, W1, 2, at=T0 + timedelta(minutes=10))
    assert clerk.number != courier.number
    with pytest.raises(PoolExhausted):  # the only other number is resting
        bind(vnums, W1, 3, at=T0 + timedelta(minutes=20))


def test_a_pool_row_that_understates_its_rest_is_corrected_not_trusted(
    vnums: VirtualNumbers,
) -> None:
    vnums.provision(NUMBERS[:2])
    held = bind(vnums, W1, 1)
    with vnums.engine.begin() as conn:  # e.g. rows imported by hand
        conn.execute(vnum_pool.update().values(quarantined_until=None))
    other = bind(vnums, W1, 2, at=T0 + DAY)
    assert other.number != held.number
    assert pool_row(vnums, held.number).quarantined_until == T0 + 3 * DAY + QUARANTINE


def test_release_errors_name_the_binding(vnums: VirtualNumbers) -> None:
    vnums.provision(NUMBERS[:1])
    first = bind(vnums, W1, 1, at=T0 + DAY)
    with pytest.raises(BadInput, match="binding_id 999: no such binding"):
        vnums.release(999, T0)
    with pytest.raises(BadInput, match=f"before binding {first.binding_id} was made"):
        vnums.release(first.binding_id, T0)


# -- concurrency -----------------------------------------------------------------------------


def run_threads(count: int, work) -> tuple[list[object], list[BaseException]]:
    barrier = threading.Barrier(count)
    results: list[object] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def main(i: int) -> None:
        barrier.wait()
        try:
            outcome = work(i)
        except BaseException as exc:  # collected and asserted on by the test
            with lock:
                errors.append(exc)
        else:
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=main, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results, errors


def test_concurrent_binds_never_share_a_number(vnums: VirtualNumbers) -> None:
    vnums.provision(NUMBERS)
    results, errors = run_threads(8, lambda i: bind(vnums, W1, i + 1))
    assert errors == []
    numbers = [b.number for b in results]  # type: ignore[attr-defined]
    assert sorted(numbers) == sorted(NUMBERS)


def test_concurrent_binds_on_a_small_pool_fail_cleanly(vnums: VirtualNumbers) -> None:
    vnums.provision(NUMBERS[:3])
    results, errors = run_threads(8, lambda i: bind(vnums, W2, i + 1))
    assert len(results) == 3
    assert len({b.number for b in results}) == 3  # type: ignore[attr-defined]
    assert len(errors) == 5
    assert all(isinstance(e, PoolExhausted) for e in errors), errors


def test_concurrent_first_binds_of_one_employee_share_one_binding(vnums: VirtualNumbers) -> None:
    vnums.provision(NUMBERS)
    results, errors = run_threads(
        8, lambda i: vnums.bind(W1, "E1", "D1", T0 + DAY + timedelta(seconds=i), T0)
    )
    assert errors == []
    assert len({(b.binding_id, b.number) for b in results}) == 1  # type: ignore[attr-defined]
    (only,) = vnums.history(results[0].number)  # type: ignore[attr-defined]
    assert only.valid_until == T0 + DAY + timedelta(seconds=7)


# -- routing ---------------------------------------------------------------------------------


def test_a_call_from_the_bound_device_within_validity_connects(vnums: VirtualNumbers) -> None:
    vnums.provision(NUMBERS[:2])
    binding = bind(vnums, W1, 1)
    decision = vnums.route("+86 " + binding.number, "D1", T0 + DAY)
    assert decision.connected
    assert (decision.reason, decision.waybill_no, decision.employee_id) == (
        "connected",
        W1,
        "E1",
    )
    assert decision.binding_id == binding.binding_id


def test_every_refusal_has_its_reason(vnums: VirtualNumbers) -> None:
    vnums.provision(NUMBERS[:3])
    binding = bind(vnums, W1, 1)
    number = binding.number

    def why(caller: str, at=T0 + DAY, target: str = number) -> str:
        return vnums.route(target, caller, at).reason

    assert why("D1", target="17099999999") == "unknown_number"
    assert why("D1", target=NUMBERS[2]) == "not_bound"
    assert why("BUYER-PHONE") == "wrong_device"  # a fraud buyer calling from his own phone
    assert why("D2") == "wrong_device"  # another employee's handheld
    assert why("D1", at=T0 + 3 * DAY) == "expired"  # before expire() ran
    vnums.expire(T0 + 4 * DAY)
    assert why("D1", at=T0 + 4 * DAY) == "expired"  # and after
    assert why("D1", at=T0 - DAY) == "not_bound"  # before it was bound
    assert why("D1") == "connected"  # the record is history: a past moment still routes
    with vnums.engine.begin() as conn:
        conn.execute(devices.update().where(devices.c.device_id == "D1").values(revoked_at=T0))
    assert why("D1") == "device_revoked"
    with vnums.engine.begin() as conn:
        conn.execute(
            devices.update()
            .where(devices.c.device_id == "D1")
            .values(revoked_at=None, employee_id="E9")
        )
    assert why("D1") == "device_not_registered"

    early = bind(vnums, W2, 2)
    vnums.release(early.binding_id, T0 + timedelta(hours=1))
    assert why("D2", target=early.number) == "not_bound"


def test_routing_a_malformed_number_is_bad_input(vnums: VirtualNumbers) -> None:
    with pytest.raises(BadInput, match="number: is not in a virtual-number range") as caught:
        vnums.route("13812345678", "D1", T0)
    assert "13812345678" not in caught.value.message


# -- forensics -------------------------------------------------------------------------------


def test_who_had_names_the_right_employee_after_recycling(vnums: VirtualNumbers) -> None:
    vnums.provision(NUMBERS[:1])
    first = bind(vnums, W1, 1, days=2)
    vnums.expire(T0 + 2 * DAY)
    second = bind(vnums, W2, 2, at=T0 + 2 * DAY + QUARANTINE, days=2)
    assert second.number == first.number
    number = first.number

    def holder(at) -> str | None:
        found = vnums.who_had(number, at)
        return None if found is None else found.employee_id

    assert holder(T0 - timedelta(seconds=1)) is None
    assert holder(T0) == "E1"
    assert holder(T0 + DAY) == "E1"
    assert holder(T0 + 2 * DAY) is None  # validity is exclusive
    assert holder(T0 + 20 * DAY) is None  # resting
    assert holder(T0 + 2 * DAY + QUARANTINE + DAY) == "E2"
    found = vnums.who_had("170 " + number[3:], T0 + DAY)
    assert found is not None
    assert found.waybill_no == W1


def test_history_keeps_every_binding(vnums: VirtualNumbers) -> None:
    vnums.provision(NUMBERS[:1])
    number = NUMBERS[0]
    at = T0
    for who in (1, 2, 3):
        binding = bind(vnums, W1 if who % 2 else W2, who, at=at, days=1)
        vnums.release(binding.binding_id, at + timedelta(hours=2))
        at += QUARANTINE + DAY
    history = vnums.history(number)
    assert [b.employee_id for b in history] == ["E1", "E2", "E3"]
    assert all(b.released_at is not None for b in history)
    assert [b.bound_at for b in history] == sorted(b.bound_at for b in history)
    assert vnums.history(NUMBERS[0]) == history


def test_bind_many_binds_in_one_transaction_and_isolates_failures(vnums: VirtualNumbers) -> None:
    from parcelguard.vnum import PoolExhausted

    vnums.provision(NUMBERS[:3])
    until = T0 + DAY
    results = vnums.bind_many(
        [
            ("PG000000000001", "E1", "D1", until),
            ("PG000000000001", "E1", "D2", until),  # not E1's device
            ("PG000000000001", "E1", "D1", until),  # the same binding again
            ("PG000000000002", "E2", "D2", until),
            ("PG000000000003", "E3", "D3", until),
            ("PG000000000004", "E4", "D4", until),  # the pool of three is used up
        ],
        T0,
    )
    first, wrong, again, second, third, none_left = results
    assert not isinstance(first, Exception)
    assert isinstance(wrong, Exception)
    assert wrong.code == "device_not_registered"
    assert not isinstance(again, Exception)
    assert again.number == first.number
    assert not isinstance(second, Exception)
    assert not isinstance(third, Exception)
    assert len({first.number, second.number, third.number}) == 3
    assert isinstance(none_left, PoolExhausted)
    assert vnums.who_had(first.number, T0).employee_id == "E1"  # type: ignore[union-attr]
