"""What one request says about itself with no history: pure functions of its facts.

Why these: in the case, the buyers wanted recipients of health products, medicines and
collectibles, and paid for records under two days old; the clerk who sold them looked up
waybills of another province, in the order of the seller's spreadsheet. None of that needs
the actor's past to be seen, so the guard notices it from the first request.
"""

from __future__ import annotations

import re

from parcelguard.reveal.facts import Facts
from parcelguard.reveal.guard.counters import SERIAL_MAX

TARGETED_CATEGORIES = frozenset({"health", "medicine", "collectibles"})
"""The categories buyers paid for (parcelguard.events.schema.CATEGORIES names them)."""

_SERIAL = re.compile(r"(\d{1,14})$")


def province(adcode: str) -> str:
    """The province-level division of an adcode (its first two digits), or ""."""
    return adcode[:2] if len(adcode) >= 2 and adcode[:2].isdigit() else ""


def far(facts: Facts) -> bool:
    """The parcel goes to, and is now in, provinces other than the actor's site's.

    Both, because a hub clerk handles parcels bound everywhere while they are in her hub,
    and a station's parcels are bound for its own district; a parcel whose division is not
    known is not called far (no signal from missing data).
    """
    home = province(facts.site_adcode)
    going = province(facts.dest_adcode)
    where = province(facts.where_adcode)
    return bool(home and going and where) and home not in (going, where)


def fresh_targeted(facts: Facts, now: int, fresh_seconds: int) -> bool:
    """Created less than ``fresh_seconds`` ago, by a sender in a category buyers target."""
    return facts.category in TARGETED_CATEGORIES and 0 <= now - facts.created_at < fresh_seconds


def serial_of(waybill_no: str) -> int | None:
    """The number's trailing digits (our ``PG`` + 12 digits), the order a sheet sorts by."""
    match = _SERIAL.search(waybill_no)
    if match is None or len(waybill_no) - len(match.group(1)) > 4:
        return None
    serial = int(match.group(1))
    return serial if serial < SERIAL_MAX else None
