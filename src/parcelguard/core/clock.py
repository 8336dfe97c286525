"""The carrier's calendar: days are Beijing days (UTC+08:00, no daylight saving).

Data keys are per creation day and retention counts days, so "which day" must mean the same
thing to the sender system, the vault and the operator who types ``--before 2026-08-01``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

CARRIER_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")


def carrier_day(moment: datetime) -> date:
    """The Beijing calendar day of an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError("carrier_day needs an aware datetime")
    return moment.astimezone(CARRIER_TZ).date()


def utc_now() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    return carrier_day(utc_now())
