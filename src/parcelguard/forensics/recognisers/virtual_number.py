"""This carrier's virtual numbers (隐私号) in a leaked file: each one names an employee.

A virtual number is bound to one waybill and one employee when issued, so finding one in a
leak points at the account it was issued to. The ranges are configuration
(``vnum_prefixes``, default :data:`parcelguard.vnum.numbers.DEFAULT_PREFIXES`); the
canonical form is :func:`parcelguard.vnum.numbers.normalise_virtual_number`'s 11 digits, so
the pool can look it up directly. Same spellings and candidates as mobile numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import polars as pl

from parcelguard.forensics.recognisers.base import Recogniser, Role, keep
from parcelguard.forensics.recognisers.mobile import (
    PHONE_CANDIDATES,
    eleven_digits_of,
    starts_with_any,
)
from parcelguard.vnum.numbers import (
    DEFAULT_PREFIXES,
    InvalidVirtualNumber,
    check_prefixes,
    normalise_virtual_number,
)


class VirtualNumberRecogniser(Recogniser):
    """Numbers in this carrier's virtual-number ranges; canonical form: 11 digits."""

    role: ClassVar[Role] = "virtual_number"
    context_words: ClassVar[tuple[str, ...]] = (
        "隐私号",
        "虚拟号",
        "虚拟号码",
        "中间号",
        "手机",
        "电话",
        "联系电话",
        "联系方式",
        "tel",
        "phone",
        "mobile",
        "virtual",
    )
    # Shaped like a pool number is not yet proof it was issued; matching against the pool
    # (forensics.match) decides that.
    score: ClassVar[float] = 0.8
    candidates = PHONE_CANDIDATES

    def __init__(self, *, prefixes: Sequence[str] = DEFAULT_PREFIXES) -> None:
        self.prefixes = check_prefixes(prefixes)

    def normalise(self, cell: str) -> str | None:
        try:
            return normalise_virtual_number(cell, self.prefixes)
        except InvalidVirtualNumber:
            return None

    def normalise_batch(self, cells: pl.Series) -> pl.Series:
        number = eleven_digits_of(cells)
        return keep(number, starts_with_any(number, self.prefixes))

    def reason(self, normalised: str) -> str:
        return "vnum_prefix"
