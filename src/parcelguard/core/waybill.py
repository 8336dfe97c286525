"""Waybills as a sender system hands them over, and the rules a record must pass.

:func:`parse_waybill` turns one raw mapping (a CSV row or a JSON object) into a
:class:`NewWaybill` or a list of problems. It is pure, so the same rules hold for files,
the API and the simulator, and problems never quote the plaintext they are about.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from parcelguard.core.errors import Problem
from parcelguard.core.names import InvalidName, normalise_name
from parcelguard.core.phone import InvalidPhone, normalise_cn_mobile

# Sender categories of the event exchange format, in the spec's order.
CATEGORY_NAMES: tuple[str, ...] = (
    "health",
    "medicine",
    "collectibles",
    "apparel",
    "electronics",
    "food",
    "books",
    "cosmetics",
    "household",
    "documents",
    "other",
)
CATEGORIES: frozenset[str] = frozenset(CATEGORY_NAMES)
DEFAULT_WAYBILL_PATTERN = r"PG\d{12}"
# First two digits of mainland, Hong Kong and Macau province-level adcodes.
PROVINCE_PREFIXES: frozenset[str] = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 "
    "50 51 52 53 54 61 62 63 64 65 71 81 82".split()
)
COLUMNS: tuple[str, ...] = (
    "waybill_no",
    "sender_id",
    "category",
    "created_at",
    "origin_site_id",
    "dest_site_id",
    "dest_adcode",
    "recipient_name",
    "recipient_phone",
    "recipient_address",
)
PERSONAL_COLUMNS: frozenset[str] = frozenset(
    {"recipient_name", "recipient_phone", "recipient_address"}
)
MAX_ID_CHARS = 64
MAX_NAME_CHARS = 64
MAX_PHONE_CHARS = 32
MAX_ADDRESS_CHARS = 300
# Sender clocks drift; a label printed more than this far in the future is a bad record.
MAX_CLOCK_SKEW = timedelta(hours=1)
_ID = re.compile(r"[A-Za-z0-9_.:\-]+")
_Reporter = Callable[[str, str, str], None]


@dataclass(frozen=True, slots=True)
class NewWaybill:
    """A waybill with plaintext recipient fields, alive only between input and encryption.

    The personal fields are left out of ``repr`` so a stray log line or traceback cannot
    print them.
    """

    waybill_no: str
    sender_id: str
    category: str
    created_at: datetime
    origin_site_id: str
    dest_site_id: str
    dest_adcode: str
    recipient_name: str = field(repr=False)
    recipient_phone: str = field(repr=False)
    recipient_address: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class WaybillRules:
    """What a record must satisfy; the pattern is the carrier's own waybill number format."""

    waybill_pattern: re.Pattern[str] = re.compile(DEFAULT_WAYBILL_PATTERN)
    max_clock_skew: timedelta = MAX_CLOCK_SKEW

    @classmethod
    def with_pattern(cls, pattern: str) -> WaybillRules:
        return cls(waybill_pattern=re.compile(pattern))


def parse_waybill(
    raw: Mapping[str, object], where: str, rules: WaybillRules, now: datetime
) -> NewWaybill | list[Problem]:
    """Validate and normalise one raw record; ``where`` names it in problems (``file:line``)."""
    problems: list[Problem] = []

    def bad(column: str, code: str, message: str) -> None:
        problems.append(Problem(where, code, f"{column} {message}"))

    def text(column: str, limit: int) -> str:
        value = raw.get(column)
        if value is None or (isinstance(value, str) and not value.strip()):
            bad(column, "missing", "is missing")
            return ""
        if not isinstance(value, str):
            bad(column, "not_text", "must be text")
            return ""
        value = value.strip()
        if len(value) > limit:
            bad(column, "too_long", f"is {len(value)} characters, the limit is {limit}")
            return ""
        return value

    waybill_no = text("waybill_no", MAX_ID_CHARS)
    if waybill_no and not rules.waybill_pattern.fullmatch(waybill_no):
        bad(
            "waybill_no",
            "malformed_waybill_no",
            f"is not one of this carrier's waybill numbers (pattern {rules.waybill_pattern.pattern})",
        )
    ids = {}
    for column in ("sender_id", "origin_site_id", "dest_site_id"):
        ids[column] = text(column, MAX_ID_CHARS)
        if ids[column] and not _ID.fullmatch(ids[column]):
            bad(column, "malformed_id", "may hold only letters, digits and _ . : -")
    category = text("category", MAX_ID_CHARS)
    if category and category not in CATEGORIES:
        bad("category", "unknown_category", f"must be one of {', '.join(sorted(CATEGORIES))}")
    adcode = text("dest_adcode", MAX_ID_CHARS)
    if adcode and not (len(adcode) == 6 and adcode.isascii() and adcode.isdigit()):
        bad("dest_adcode", "malformed_adcode", "must be a 6-digit administrative division code")
    elif adcode and adcode[:2] not in PROVINCE_PREFIXES:
        bad("dest_adcode", "unknown_adcode", "does not start with a province code")
    created_at = _parse_created_at(text("created_at", MAX_ID_CHARS), bad, rules, now)

    name = text("recipient_name", MAX_NAME_CHARS)
    if name:
        try:
            normalise_name(name)
        except InvalidName as exc:
            bad("recipient_name", "invalid_name", f"is not a name ({exc})")
    phone_raw = text("recipient_phone", MAX_PHONE_CHARS)
    phone = ""
    if phone_raw:
        try:
            phone = normalise_cn_mobile(phone_raw)
        except InvalidPhone as exc:
            bad("recipient_phone", "invalid_phone", f"is not a Chinese mobile number ({exc})")
    address = text("recipient_address", MAX_ADDRESS_CHARS)

    if problems or created_at is None:
        return problems
    return NewWaybill(
        waybill_no=waybill_no,
        sender_id=ids["sender_id"],
        category=category,
        created_at=created_at,
        origin_site_id=ids["origin_site_id"],
        dest_site_id=ids["dest_site_id"],
        dest_adcode=adcode,
        recipient_name=name,
        recipient_phone=phone,
        recipient_address=address,
    )


def _parse_created_at(
    value: str, bad: _Reporter, rules: WaybillRules, now: datetime
) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        bad("created_at", "malformed_time", "is not an ISO 8601 time")
        return None
    if moment.tzinfo is None:
        bad(
            "created_at",
            "naive_time",
            "has no UTC offset (write it like 2026-11-24T09:15:02+08:00)",
        )
        return None
    moment = moment.astimezone(UTC)
    if moment - now > rules.max_clock_skew:
        hours = (moment - now).total_seconds() / 3600
        bad("created_at", "future_time", f"is {hours:.1f} h in the future (sender clock skew?)")
        return None
    return moment
