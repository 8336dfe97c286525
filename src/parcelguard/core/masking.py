"""Masked forms of recipient data, as GB/T 41833-2022 (快递电子运单) requires on labels.

The rules hide at least one character of the name, at least six digits of the phone, and the
unit and room part of the address. Masks are computed once, when a waybill enters the vault,
so that showing a label never touches a key.
"""

from __future__ import annotations

import re

from parcelguard.core.names import surname_length

MASK = "*"
_HIDDEN_ADDRESS = "****"

# The start of the unit/room part: building (栋/幢/座/号楼), unit (单元), floor (层/楼),
# room (室/房/户) after a number, or a "3-2-501" style block.
_UNIT_START = re.compile(
    r"(?:[0-9０-９A-Za-z一二三四五六七八九十百]+\s*(?:栋|幢|座|号楼|单元|层|楼|室|房|户))"
    r"|(?:\d+\s*[-－—]\s*\d+(?:\s*[-－—]\s*\d+)?)"
)


def mask_name(name: str) -> str:
    """Keep the surname, hide the given name character by character (王* / 欧阳**)."""
    if len(name) <= 1:
        return MASK
    if not _is_cjk(name[0]):
        return name[0] + MASK * (len(name) - 1)
    keep = surname_length(name)
    if keep >= len(name):
        keep = len(name) - 1
    return name[:keep] + MASK * (len(name) - keep)


def mask_phone(phone: str) -> str:
    """Keep the first three and last two digits of an 11-digit number (138******78)."""
    if len(phone) != 11:
        raise ValueError("mask_phone takes a normalised 11-digit number")
    return phone[:3] + MASK * 6 + phone[-2:]


def mask_address(address: str) -> str:
    """Hide everything from the unit/room part on; without one, hide the second half.

    The hidden part becomes a fixed ``****`` so the mask does not leak its length.
    """
    text = address.strip()
    match = _UNIT_START.search(text)
    if match is not None and match.start() > 0:
        return text[: match.start()] + _HIDDEN_ADDRESS
    keep = len(text) // 2
    return text[:keep] + _HIDDEN_ADDRESS


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"
