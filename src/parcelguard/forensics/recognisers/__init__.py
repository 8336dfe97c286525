"""Recognisers of personal data in leaked files: small pluggable classes, one per role.

Each recogniser (see :class:`~parcelguard.forensics.recognisers.base.Recogniser`) has
candidate patterns, context words that name it in headers, and a validator (checksum,
reference table) that decides which candidates are real, with a Python path for sampling
and a Polars path for the bulk. ``default_recognisers`` builds the set ingest uses; an
operator adds a role by subclassing ``Recogniser`` (docs/recognisers.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from parcelguard.core.waybill import DEFAULT_WAYBILL_PATTERN
from parcelguard.forensics.recognisers.address import AddressRecogniser
from parcelguard.forensics.recognisers.amount import AmountRecogniser
from parcelguard.forensics.recognisers.base import ROLES, Found, Recogniser, Role
from parcelguard.forensics.recognisers.date import DateRecogniser
from parcelguard.forensics.recognisers.fixed_line import FixedLineRecogniser
from parcelguard.forensics.recognisers.id_number import IdNumberRecogniser
from parcelguard.forensics.recognisers.mobile import MobileRecogniser
from parcelguard.forensics.recognisers.name import NameRecogniser
from parcelguard.forensics.recognisers.virtual_number import VirtualNumberRecogniser
from parcelguard.forensics.recognisers.waybill import WaybillRecogniser
from parcelguard.vnum.numbers import DEFAULT_PREFIXES

__all__ = [
    "DEFAULT_PREFIXES",
    "DEFAULT_WAYBILL_PATTERN",
    "ROLES",
    "AddressRecogniser",
    "AmountRecogniser",
    "DateRecogniser",
    "FixedLineRecogniser",
    "Found",
    "IdNumberRecogniser",
    "MobileRecogniser",
    "NameRecogniser",
    "Recogniser",
    "Role",
    "VirtualNumberRecogniser",
    "WaybillRecogniser",
    "default_recognisers",
]


def default_recognisers(
    *,
    waybill_pattern: str = DEFAULT_WAYBILL_PATTERN,
    vnum_prefixes: Sequence[str] = DEFAULT_PREFIXES,
) -> list[Recogniser]:
    """One recogniser per role, configured with this carrier's waybill pattern and ranges.

    Ordered from the most to the least certain role (checksums and reference tables
    first, names last), so a classifier that breaks ties by position prefers them.
    """
    return [
        IdNumberRecogniser(),
        VirtualNumberRecogniser(prefixes=vnum_prefixes),
        MobileRecogniser(vnum_prefixes=vnum_prefixes),
        WaybillRecogniser(waybill_pattern=waybill_pattern),
        FixedLineRecogniser(),
        AddressRecogniser(),
        DateRecogniser(),
        AmountRecogniser(),
        NameRecogniser(),
    ]
