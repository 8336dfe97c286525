"""The routing rule on its own: every reason, in the order it is checked."""

from datetime import timedelta

import pytest

from parcelguard.vnum.binding import (
    ROUTE_REASONS,
    Binding,
    DeviceRecord,
    RouteDecision,
    decide_route,
)
from tests.vnum.conftest import DAY, T0

BINDING = Binding(7, "17090000001", "PG316508274413", "E1", "D1", T0, T0 + 3 * DAY)
DEVICE = DeviceRecord("D1", "E1", T0 - DAY)


def reason(
    *,
    caller: str = "D1",
    at: object = None,
    in_pool: bool = True,
    binding: Binding | None = BINDING,
    device: DeviceRecord | None = DEVICE,
) -> str:
    moment = T0 + DAY if at is None else at
    decision = decide_route(
        "17090000001",
        caller,
        moment,  # type: ignore[arg-type]
        in_pool=in_pool,
        binding=binding,
        device=device,
    )
    assert decision.connected == (decision.reason == "connected")
    return decision.reason


def test_connected_only_for_the_bound_registered_device_within_validity() -> None:
    assert reason() == "connected"


def test_each_denial_has_its_own_reason() -> None:
    assert reason(in_pool=False) == "unknown_number"
    assert reason(binding=None) == "not_bound"
    assert reason(at=T0 + 3 * DAY) == "expired"  # valid_until is exclusive
    released = Binding(7, "17090000001", "PG316508274413", "E1", "D1", T0, T0 + 3 * DAY, T0)
    assert reason(binding=released) == "not_bound"  # released early: unbound, not expired
    expired = Binding(
        7, "17090000001", "PG316508274413", "E1", "D1", T0, T0 + 3 * DAY, T0 + 3 * DAY
    )
    assert reason(binding=expired, at=T0 + 4 * DAY) == "expired"
    assert reason(caller="D9") == "wrong_device"
    assert reason(device=None) == "device_not_registered"
    assert reason(device=DeviceRecord("D1", "E2", T0 - DAY)) == "device_not_registered"
    assert reason(device=DeviceRecord("D1", "E1", T0 + 2 * DAY)) == "device_not_registered"
    assert reason(device=DeviceRecord("D1", "E1", T0 - DAY, T0)) == "device_revoked"
    assert reason(device=DeviceRecord("D1", "E1", T0 - DAY, T0 + 2 * DAY)) == "connected"


def test_the_caller_is_checked_before_the_bound_device() -> None:
    # A fraud buyer calling from his own phone is told "wrong device", whatever the handheld's state.
    assert reason(caller="BUYER", device=None) == "wrong_device"


def test_decisions_carry_both_languages_and_name_the_binding() -> None:
    decision = decide_route(
        "17090000001", "D9", T0 + DAY, in_pool=True, binding=BINDING, device=DEVICE
    )
    assert decision.reason_en == ROUTE_REASONS["wrong_device"][0]
    assert decision.reason_zh == "来电设备不是该隐私号绑定的设备"
    assert decision.reason_text("zh") == decision.reason_zh
    data = decision.as_dict()
    assert data["employee_id"] == "E1"
    assert data["waybill_no"] == "PG316508274413"
    assert data["binding_id"] == 7


def test_a_decision_cannot_contradict_its_reason() -> None:
    with pytest.raises(ValueError, match="connected exactly"):
        RouteDecision("17090000001", "D1", T0, True, "expired")
    with pytest.raises(ValueError, match="unknown routing reason"):
        RouteDecision("17090000001", "D1", T0, False, "because")


def test_binding_end_is_the_earlier_of_release_and_validity() -> None:
    assert BINDING.ended_at == T0 + 3 * DAY
    early = Binding(1, "n", "w", "e", "d", T0, T0 + 3 * DAY, T0 + DAY)
    assert early.ended_at == T0 + DAY
    assert early.active_at(T0)
    assert not early.active_at(T0 + DAY)
    assert not BINDING.active_at(T0 - timedelta(seconds=1))
