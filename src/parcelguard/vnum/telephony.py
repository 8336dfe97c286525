"""The telephony side of virtual numbers: a call comes in, it is routed or refused.

In production a carrier's telephony platform (the MVNO's AXB/AX service) asks ParcelGuard
whether a call to a virtual number may go through and to whom. :class:`Telephony` is that
contract; :class:`InProcessTelephony` implements it in-process for tests, the demo and the
simulator.

The recipient's real phone is obtained only after a call is decided ``connected``, through a
``reveal_phone`` callback the caller supplies (the reveal service passes one that decrypts, so
this module never imports the vault). It is held in a field excluded from ``repr`` and is
never logged: logs carry the virtual number, the device and the reason only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from parcelguard.core.masking import mask_phone
from parcelguard.core.phone import normalise_cn_mobile
from parcelguard.vnum.binding import RouteDecision

log = logging.getLogger(__name__)


@runtime_checkable
class Router(Protocol):
    """Anything that decides calls; :class:`~parcelguard.vnum.pool.VirtualNumbers` does."""

    def route(self, number: str, caller_device_id: str, now: datetime) -> RouteDecision: ...


@dataclass(frozen=True, slots=True)
class Call:
    """An incoming call: which virtual number was dialled, from which device, when."""

    number: str
    caller_device_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CallResult:
    """How a call ended: the decision and, if connected, the phone it was put through to."""

    decision: RouteDecision
    recipient_phone: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.decision.connected != (self.recipient_phone is not None):
            raise ValueError("a call has a recipient phone exactly when it was connected")

    @property
    def connected(self) -> bool:
        return self.decision.connected

    @property
    def recipient_masked(self) -> str | None:
        """The phone as a label shows it (138******78), for people and reports."""
        return None if self.recipient_phone is None else mask_phone(self.recipient_phone)

    def as_dict(self) -> dict[str, object]:
        """For output and audit: the decision and the masked phone, never the phone itself."""
        return {**self.decision.as_dict(), "recipient_masked": self.recipient_masked}


@runtime_checkable
class Telephony(Protocol):
    """The telephony platform's side: put a call through or refuse it."""

    def connect(self, call: Call) -> CallResult: ...


class InProcessTelephony:
    """Routes calls through a :class:`Router`; dials (here: returns) the revealed phone.

    ``reveal_phone`` maps a waybill number to its recipient's phone. It is called only for a
    connected call, once per call; an error it raises (a shredded waybill, a denied reveal)
    propagates to the caller unchanged, with nothing half-connected.
    """

    def __init__(self, router: Router, reveal_phone: Callable[[str], str]) -> None:
        self._router = router
        self._reveal_phone = reveal_phone

    def __repr__(self) -> str:
        return f"{type(self).__name__}(router={type(self._router).__name__})"

    def connect(self, call: Call) -> CallResult:
        decision = self._router.route(call.number, call.caller_device_id, call.at)
        log.info(
            "call to virtual number %s from device %s: %s",
            decision.number,
            call.caller_device_id,
            decision.reason,
        )
        if not decision.connected or decision.waybill_no is None:
            return CallResult(decision)
        phone = normalise_cn_mobile(self._reveal_phone(decision.waybill_no))
        return CallResult(decision, phone)
