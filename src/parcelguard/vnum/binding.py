"""Bindings and routing decisions: pure values and the pure routing rule.

A binding ties one pool number to one (waybill, employee, device) for a period. Because every
employee gets a number of their own for a recipient, a virtual number found in a leaked file
names the employee who was shown it; the bindings are therefore kept forever, released or not.

The routing rule lives here, apart from storage, so that it can be read and tested as the
policy it is: the store (:mod:`parcelguard.vnum.pool`) only gathers the facts it needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

ROUTE_REASONS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "connected": (
            "the call comes from the bound employee's registered device within the validity",
            "来电来自绑定员工的登记设备，且在有效期内",
        ),
        "unknown_number": (
            "this is not one of the carrier's virtual numbers",
            "该号码不是本公司的隐私号",
        ),
        "not_bound": (
            "the virtual number is not bound to any waybill at this time",
            "该隐私号当前未绑定任何运单",
        ),
        "expired": (
            "the virtual number's binding has expired",
            "该隐私号的绑定已过期",
        ),
        "wrong_device": (
            "the call does not come from the device the number is bound to",
            "来电设备不是该隐私号绑定的设备",
        ),
        "device_revoked": (
            "the device the number is bound to has been revoked",
            "该隐私号绑定的设备已注销",
        ),
        "device_not_registered": (
            "the device the number is bound to is not registered to the bound employee",
            "该隐私号绑定的设备未登记在绑定员工名下",
        ),
    }
)
"""Every routing reason code with its English and Chinese sentence."""


@dataclass(frozen=True, slots=True)
class Binding:
    """One number bound to one (waybill, employee, device) from ``bound_at``.

    The binding ends at ``released_at`` when it was released (early, or by expiry, which
    records the moment validity ran out), else at ``valid_until``.
    """

    binding_id: int
    number: str
    waybill_no: str
    employee_id: str
    device_id: str
    bound_at: datetime
    valid_until: datetime
    released_at: datetime | None = None

    @property
    def ended_at(self) -> datetime:
        """When the number stopped routing for this binding (or will, if nothing changes)."""
        if self.released_at is not None and self.released_at < self.valid_until:
            return self.released_at
        return self.valid_until

    def active_at(self, moment: datetime) -> bool:
        return self.bound_at <= moment < self.ended_at

    @property
    def released_early(self) -> bool:
        return self.released_at is not None and self.released_at < self.valid_until

    def as_dict(self) -> dict[str, object]:
        return {
            "binding_id": self.binding_id,
            "number": self.number,
            "waybill_no": self.waybill_no,
            "employee_id": self.employee_id,
            "device_id": self.device_id,
            "bound_at": self.bound_at,
            "valid_until": self.valid_until,
            "released_at": self.released_at,
        }


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """A registered device as routing needs it (the ``devices`` table)."""

    device_id: str
    employee_id: str
    registered_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """Whether a call to a virtual number is put through, and why.

    It names the waybill and the employee of the binding it judged (ids, no personal data),
    so that a denied call is evidence too: a call to an employee's number from a phone that
    is not his handheld is what a buyer of leaked data looks like. It never holds the
    recipient's phone; the telephony side obtains that separately, only when connected.
    """

    number: str
    caller_device_id: str
    at: datetime
    connected: bool
    reason: str
    waybill_no: str | None = None
    employee_id: str | None = None
    bound_device_id: str | None = None
    binding_id: int | None = None
    valid_until: datetime | None = None

    def __post_init__(self) -> None:
        if self.reason not in ROUTE_REASONS:
            raise ValueError(f"unknown routing reason {self.reason!r}")
        if self.connected != (self.reason == "connected"):
            raise ValueError("a decision is connected exactly when its reason is 'connected'")

    @property
    def reason_en(self) -> str:
        return ROUTE_REASONS[self.reason][0]

    @property
    def reason_zh(self) -> str:
        return ROUTE_REASONS[self.reason][1]

    def reason_text(self, lang: str) -> str:
        return self.reason_zh if lang == "zh" else self.reason_en

    def as_dict(self) -> dict[str, object]:
        return {
            "number": self.number,
            "caller_device_id": self.caller_device_id,
            "at": self.at,
            "connected": self.connected,
            "reason": self.reason,
            "reason_en": self.reason_en,
            "reason_zh": self.reason_zh,
            "waybill_no": self.waybill_no,
            "employee_id": self.employee_id,
            "bound_device_id": self.bound_device_id,
            "binding_id": self.binding_id,
            "valid_until": self.valid_until,
        }


def decide_route(
    number: str,
    caller_device_id: str,
    now: datetime,
    *,
    in_pool: bool,
    binding: Binding | None,
    device: DeviceRecord | None,
) -> RouteDecision:
    """The routing rule.

    ``binding`` is the number's latest binding made at or before ``now`` (bindings of one
    number never overlap, so it is either active now or already ended); ``device`` is the
    registered device that binding names, if the store has it. A call is put through only
    when the binding is active, the caller is the bound device, and that device is
    registered, not revoked, and registered to the bound employee. Each failure has its own
    reason, checked in that order, so the first thing wrong is the one reported.
    """
    if not in_pool:
        return RouteDecision(number, caller_device_id, now, False, "unknown_number")
    if binding is None:
        return RouteDecision(number, caller_device_id, now, False, "not_bound")

    reason = _binding_reason(binding, caller_device_id, now, device)
    return RouteDecision(
        number,
        caller_device_id,
        now,
        reason == "connected",
        reason,
        waybill_no=binding.waybill_no,
        employee_id=binding.employee_id,
        bound_device_id=binding.device_id,
        binding_id=binding.binding_id,
        valid_until=binding.valid_until,
    )


def _binding_reason(
    binding: Binding, caller_device_id: str, now: datetime, device: DeviceRecord | None
) -> str:
    if not binding.active_at(now):
        # Ran out of validity (whether or not ``expire`` has run yet) versus released early.
        reason = "not_bound" if binding.released_early else "expired"
    elif caller_device_id != binding.device_id:
        reason = "wrong_device"
    elif device is None or device.registered_at > now:
        reason = "device_not_registered"
    elif device.revoked_at is not None and device.revoked_at <= now:
        reason = "device_revoked"
    elif device.employee_id != binding.employee_id:
        reason = "device_not_registered"
    else:
        reason = "connected"
    return reason
