"""Fixed-line numbers with an area code: 0716-1234567, (010) 12345678, 021 1234 5678 转 801.

Area codes are 010 and 02x (Beijing and the big cities, three characters) or 0 plus three
digits; local numbers have 7 or 8 digits and never start with 0 or 1, which keeps mobiles
(1...) and the area code itself apart. Canonical form: ``area-local`` and ``-extension``
when there is one (0716-1234567, 010-12345678-801).
"""

from __future__ import annotations

from typing import ClassVar, Final

import polars as pl

from parcelguard.forensics.recognisers.base import (
    Recogniser,
    Role,
    WholeCell,
    keep,
)

_AREA: Final = r"0(?:10|2[0-9]|[3-9][0-9]{2})"
_EXTENSION: Final = r"[ ]{0,2}(?:-|转|#|(?i:ext)\.?|[xX])[ ]{0,2}"
# The local number may be split 3+4 or 4+4 (021 5234 5678).
WHOLE: Final = (
    rf"\(?({_AREA})\)?[ \-]{{0,2}}([2-9][0-9]{{2,3}})[ \-]?([0-9]{{4}})"
    rf"(?:{_EXTENSION}([0-9]{{1,6}}))?"
)
CANDIDATES: Final = (
    rf"(?:\(|\b)0[0-9]{{2,3}}\)?[ \-]{{0,2}}[2-9][0-9]{{2,3}}[ \-]?[0-9]{{4}}"
    rf"(?:{_EXTENSION}[0-9]{{1,6}})?\b"
)


class FixedLineRecogniser(Recogniser):
    """Fixed lines with area code; canonical form: 0716-1234567[-ext]."""

    role: ClassVar[Role] = "fixed_line"
    context_words: ClassVar[tuple[str, ...]] = (
        "固话",
        "固定电话",
        "座机",
        "电话",
        "联系电话",
        "办公电话",
        "家庭电话",
        "tel",
        "telephone",
        "phone",
        "landline",
    )
    score: ClassVar[float] = 0.6
    candidates = CANDIDATES

    def __init__(self) -> None:
        self._whole = WholeCell.of(WHOLE)

    def normalise(self, cell: str) -> str | None:
        match = self._whole.match(cell)
        if match is None:
            return None
        area, head, tail, extension = match.groups()
        return f"{area}-{head}{tail}" + (f"-{extension}" if extension else "")

    def normalise_batch(self, cells: pl.Series) -> pl.Series:
        parts = self._whole.groups(cells)
        area, head, tail, extension = (parts.struct.field(str(i)) for i in (1, 2, 3, 4))
        frame = pl.DataFrame({"area": area, "local": head + tail, "extension": extension})
        joined = frame.select(
            pl.concat_str(["area", "local", "extension"], separator="-", ignore_nulls=True)
        ).to_series()
        return keep(joined, area.is_not_null()).alias(cells.name)

    def reason(self, normalised: str) -> str:
        return "area_code"
