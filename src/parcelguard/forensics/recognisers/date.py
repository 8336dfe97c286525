"""Calendar dates: 2016-05-01, 2016/5/1, 2016.5.1, 2016年5月1日, 20160501, with a time or not.

Dates tell when a record was made and so how fresh it was when it leaked (buyers paid for
records under two days old). Only real calendar dates from 1990 to 2100 count: earlier ones
predate parcel data, and the range keeps 8-digit numbers that are not dates out.
Canonical form: ISO 8601, 2016-05-01 (the time, when present, is dropped).
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Final

import numpy as np
import polars as pl

from parcelguard.forensics.recognisers.base import (
    Recogniser,
    Role,
    WholeCell,
    keep,
)

_YEAR: Final = r"(199[0-9]|20[0-9]{2}|2100)"
_MONTH: Final = r"(1[0-2]|0?[1-9])"
_DAY: Final = r"(3[01]|[12][0-9]|0?[1-9])"
_TIME: Final = (
    r"(?:(?:[ ]{1,2}|T)(?:[01]?[0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,6})?)?)?"
)
_FORMS: Final = (
    rf"{_YEAR}[\-/.]{_MONTH}[\-/.]{_DAY}",
    rf"{_YEAR}年{_MONTH}月{_DAY}日?",
    r"(199[0-9]|20[0-9]{2}|2100)(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])",
)
WHOLE: Final = "|".join(f"(?:{form}){_TIME}" for form in _FORMS)
CANDIDATES: Final = rf"\b(?:{_FORMS[0]}\b|{_FORMS[1].removesuffix('日?')}(?:日|\b)|{_FORMS[2]}\b)"
_DAYS: Final = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


class DateRecogniser(Recogniser):
    """Calendar dates 1990-2100; canonical form: 2016-05-01."""

    role: ClassVar[Role] = "date"
    context_words: ClassVar[tuple[str, ...]] = (
        "日期",
        "时间",
        "下单时间",
        "发货时间",
        "创建时间",
        "签收时间",
        "下单日期",
        "date",
        "time",
        "created",
        "createdat",
    )
    score: ClassVar[float] = 0.6
    candidates = CANDIDATES

    def __init__(self) -> None:
        self._whole = WholeCell.of(WHOLE)

    def normalise(self, cell: str) -> str | None:
        match = self._whole.match(cell)
        if match is None:
            return None
        groups = [g for g in match.groups() if g is not None]
        try:
            return date(int(groups[0]), int(groups[1]), int(groups[2])).isoformat()
        except ValueError:
            return None

    def normalise_batch(self, cells: pl.Series) -> pl.Series:
        parts = self._whole.groups(cells)
        fields = [parts.struct.field(str(i)) for i in range(1, 10)]
        year, month, day = (
            pl.select(pl.coalesce([pl.lit(fields[k]) for k in (i, i + 3, i + 6)]))
            .to_series()
            .cast(pl.Int32)
            for i in range(3)
        )
        leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
        month_days = pl.Series(_DAYS)[month.fill_null(0)] - ((month == 2) & ~leap).cast(pl.Int32)
        real = day <= month_days
        iso = pl.select(
            pl.format(
                "{}-{}-{}",
                pl.lit(year),
                pl.lit(month).cast(pl.String).str.zfill(2),
                pl.lit(day).cast(pl.String).str.zfill(2),
            )
        ).to_series()
        return keep(iso, real).alias(cells.name)

    def reason(self, normalised: str) -> str:
        return "calendar_date"
