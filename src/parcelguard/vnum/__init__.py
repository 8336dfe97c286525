"""Virtual numbers (隐私号): a recipient's phone shown as a number bound to one employee.

By default a revealed phone is a virtual number bound to (waybill, employee, device), valid
until a set time after delivery. It routes to the recipient only for calls from that
employee's registered device within its validity, so a sold record is useless to a fraud
buyer, and because each employee gets their own number for a recipient, a virtual number
in a leaked file names the employee who was shown it. See ``docs/vnum.md``.
"""

from parcelguard.vnum.binding import ROUTE_REASONS, Binding, DeviceRecord, RouteDecision
from parcelguard.vnum.config import VnumConfig
from parcelguard.vnum.errors import DeviceNotRegistered, PoolExhausted
from parcelguard.vnum.numbers import (
    DEFAULT_PREFIXES,
    InvalidVirtualNumber,
    is_virtual_number,
    normalise_virtual_number,
    pool_numbers,
)
from parcelguard.vnum.pool import (
    DEFAULT_QUARANTINE,
    ExpireResult,
    PoolCounts,
    ProvisionResult,
    VirtualNumbers,
)
from parcelguard.vnum.telephony import Call, CallResult, InProcessTelephony, Telephony

__all__ = [
    "DEFAULT_PREFIXES",
    "DEFAULT_QUARANTINE",
    "ROUTE_REASONS",
    "Binding",
    "Call",
    "CallResult",
    "DeviceNotRegistered",
    "DeviceRecord",
    "ExpireResult",
    "InProcessTelephony",
    "InvalidVirtualNumber",
    "PoolCounts",
    "PoolExhausted",
    "ProvisionResult",
    "RouteDecision",
    "Telephony",
    "VirtualNumbers",
    "VnumConfig",
    "is_virtual_number",
    "normalise_virtual_number",
    "pool_numbers",
]
