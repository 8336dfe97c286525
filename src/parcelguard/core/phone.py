"""Chinese mobile numbers: the one normalisation every part of ParcelGuard uses.

Blind indexes only match when both sides normalise identically, so the vault, the reveal
service and leak forensics all call :func:`normalise_cn_mobile` and nothing else.
"""

from __future__ import annotations

import re
import unicodedata

# Mainland mobile numbers: 11 digits, 1 then 3-9 (segments 13x-19x).
_MOBILE = re.compile(r"1[3-9]\d{9}")
_MOBILE_SHAPED = re.compile(r"(?:\+?86)?1[3-9]\d{9}")
# Separators people and spreadsheets put into numbers.
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―()（）.·]+")
_COUNTRY_PREFIXES = ("+86", "0086", "86")


class InvalidPhone(ValueError):
    """The text is not a Chinese mobile number; the message never repeats the text."""


def normalise_cn_mobile(text: str) -> str:
    """Return the 11-digit form of a Chinese mobile number, or raise :class:`InvalidPhone`.

    Accepts +86 / 0086 / 86 prefixes, full-width digits and plus signs, spaces, dashes,
    dots and brackets, because that is how numbers arrive from forms, labels and leaked files.
    """
    folded = unicodedata.normalize("NFKC", text)
    compact = _SEPARATORS.sub("", folded)
    if not compact:
        raise InvalidPhone("empty")
    for prefix in _COUNTRY_PREFIXES:
        if compact.startswith(prefix) and len(compact) == len(prefix) + 11:
            compact = compact[len(prefix) :]
            break
    if not compact.isascii() or not compact.isdigit():
        raise InvalidPhone("contains characters other than digits and separators")
    if len(compact) != 11:
        raise InvalidPhone(f"has {len(compact)} digits, a mobile number has 11")
    if not _MOBILE.fullmatch(compact):
        raise InvalidPhone("is not in a mobile segment (13x-19x)")
    return compact


def looks_like_mobile(text: str) -> bool:
    """Whether ``text`` is shaped like a mainland mobile number, as typed into an id field.

    For places that must never hold a phone (the audit log's waybill field, a reveal's
    waybill number): they refuse or mask anything this matches, without normalising it.
    """
    return _MOBILE_SHAPED.fullmatch(text) is not None
