"""Tests of the recognisers, with synthetic values and spellings generated here.

The helpers below make values that are real in form (real mobile segments, valid ID check
characters) but belong to nobody: every digit after the prefix is random.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import polars as pl
from hypothesis import strategies as st

from parcelguard.core.waybill import PROVINCE_PREFIXES
from parcelguard.forensics.recognisers import Recogniser
from parcelguard.forensics.recognisers.id_number import check_char

FULL_WIDTH = str.maketrans("0123456789+-()", "０１２３４５６７８９＋－（）")


def run_expr(recogniser: Recogniser, cells: Sequence[str | None]) -> list[str | None]:
    """``recogniser.expr`` on a column of ``cells``, as Python values."""
    frame = pl.DataFrame({"cell": list(cells)}, schema={"cell": pl.String})
    return frame.select(recogniser.expr(pl.col("cell"))).to_series().to_list()


def run_extract(recogniser: Recogniser, texts: Sequence[str | None]) -> list[str | None]:
    frame = pl.DataFrame({"text": list(texts)}, schema={"text": pl.String})
    return frame.select(recogniser.extract(pl.col("text"))).to_series().to_list()


def run_rejection(recogniser: Recogniser, cells: Sequence[str | None]) -> list[str | None]:
    frame = pl.DataFrame({"cell": list(cells)}, schema={"cell": pl.String})
    return frame.select(recogniser.rejection_expr(pl.col("cell"))).to_series().to_list()


def first_found(recogniser: Recogniser, text: str) -> str | None:
    found = recogniser.find(text)
    return found[0].normalised if found else None


@st.composite
def spelled_mobile(draw: st.DrawFn, segments: Sequence[str]) -> tuple[str, str]:
    """``(canonical, spelling)``: a number from ``segments`` as people write it."""
    segment = draw(st.sampled_from(sorted(segments)))
    rest = draw(st.text("0123456789", min_size=8, max_size=8))
    number = segment + rest
    country = draw(st.sampled_from(["", "+86", "0086", "86", "+86 ", "(+86)", "+86-"]))
    sep = draw(st.sampled_from(["", " ", "-", ".", "  "]))
    grouped = draw(st.booleans())
    body = sep.join([number[:3], number[3:7], number[7:]]) if grouped else number
    spelling = country + body
    if draw(st.booleans()):
        spelling = spelling.translate(FULL_WIDTH)
    return number, spelling


@st.composite
def synthetic_id(draw: st.DrawFn) -> str:
    """A valid 18-character ID number: real province, real date, random rest, check char."""
    province = draw(st.sampled_from(sorted(PROVINCE_PREFIXES)))
    area = draw(st.text("0123456789", min_size=4, max_size=4))
    birth = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)))
    seq = draw(st.text("0123456789", min_size=3, max_size=3))
    first17 = f"{province}{area}{birth:%Y%m%d}{seq}"
    return first17 + check_char(first17)
