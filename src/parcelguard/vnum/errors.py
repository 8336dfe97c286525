"""Errors of the virtual-number pool, each with its own code.

The reveal service turns :class:`PoolExhausted` into a denial (reason ``vnum_pool_exhausted``)
rather than falling back to the plaintext phone: running out of numbers must never reveal more.
"""

from __future__ import annotations

from parcelguard.core.errors import BadInput, ParcelGuardError


class PoolExhausted(ParcelGuardError):
    """No number is free: every one is bound or still in quarantine."""

    code = "vnum_pool_exhausted"


class DeviceNotRegistered(BadInput):
    """A binding names a device that is not a registered, unrevoked device of the employee.

    Such a number could never route (routing checks the same thing), so binding it would only
    waste the pool and leave a misleading trail for forensics. The code is
    ``device_not_registered`` or ``device_revoked``.
    """

    code = "device_not_registered"
