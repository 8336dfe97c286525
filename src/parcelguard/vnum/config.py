"""Virtual-number settings, read from the environment like :class:`parcelguard.config.Settings`.

Kept here until the installation settings carry them: ``PARCELGUARD_VNUM_PREFIXES`` (the MVNO
ranges the carrier rents, comma-separated) and ``PARCELGUARD_VNUM_QUARANTINE_DAYS`` (how long
a released number rests before it is bound again).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from parcelguard.core.errors import BadInput
from parcelguard.vnum.numbers import DEFAULT_PREFIXES, InvalidVirtualNumber, check_prefixes

DEFAULT_QUARANTINE_DAYS = 30


@dataclass(frozen=True, slots=True)
class VnumConfig:
    prefixes: tuple[str, ...] = DEFAULT_PREFIXES
    quarantine: timedelta = timedelta(days=DEFAULT_QUARANTINE_DAYS)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> VnumConfig:
        env = os.environ if env is None else env
        raw_prefixes = env.get("PARCELGUARD_VNUM_PREFIXES") or ",".join(DEFAULT_PREFIXES)
        try:
            prefixes = check_prefixes([p.strip() for p in raw_prefixes.split(",") if p.strip()])
        except InvalidVirtualNumber as exc:
            raise BadInput(f"PARCELGUARD_VNUM_PREFIXES: {exc}") from None
        raw_days = env.get("PARCELGUARD_VNUM_QUARANTINE_DAYS") or str(DEFAULT_QUARANTINE_DAYS)
        try:
            days = int(raw_days)
        except ValueError:
            raise BadInput(
                f"PARCELGUARD_VNUM_QUARANTINE_DAYS: {raw_days!r} is not a whole number"
            ) from None
        if days < 0:
            raise BadInput(f"PARCELGUARD_VNUM_QUARANTINE_DAYS: must be 0 or more, got {days}")
        return cls(prefixes=prefixes, quarantine=timedelta(days=days))
