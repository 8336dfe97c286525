"""Waybill numbers: this carrier's (configurable) and the common formats of other carriers.

A leaked file that mixes carriers is common (the Jingzhou clerk looked up other carriers'
numbers too), and which carrier a number belongs to decides whether matching can find it:
only ``carrier:ours`` numbers are in the vault. The other formats are the public shapes of
the big carriers' numbers; they overlap little with each other and not at all with mobile
(11 digits starting 1) or ID numbers (18 characters).

Canonical form: the number as written, without surrounding spaces, upper-case.
"""

from __future__ import annotations

import re
from typing import ClassVar, Final

import polars as pl

from parcelguard.core.errors import BadInput
from parcelguard.core.waybill import DEFAULT_WAYBILL_PATTERN
from parcelguard.forensics.recognisers.base import (
    Recogniser,
    Role,
    keep,
    nfkc,
    nfkc_series,
    strip_series,
)

# Other carriers' formats, tried in this order after ours. EMS (S10 international
# format) comes before JD, whose letters-and-digits format would also take "JD...CN".
OTHER_CARRIERS: Final[tuple[tuple[str, str], ...]] = (
    ("sf", r"SF[0-9]{12,15}"),  # 顺丰
    ("ems", r"[A-Z]{2}[0-9]{9}CN"),  # EMS / 中国邮政 (UPU S10)
    ("jd", r"JD[0-9A-Z]{11,16}"),  # 京东
    ("yto", r"YT[0-9]{13}"),  # 圆通
    ("zto", r"7[568][0-9]{10,13}"),  # 中通
    ("yunda", r"4[36][0-9]{11,13}"),  # 韵达
    ("sto", r"(?:77|88)[0-9]{10,12}"),  # 申通
)
OURS: Final = "ours"


def _rust_ascii(pattern: str, flags: str = "") -> str:
    """The pattern for Rust in ASCII mode, as Python reads it under ``re.ASCII``.

    ``(?-u:...)`` makes ``\\d`` and ``\\w`` ASCII in Rust too. A pattern that Rust refuses in
    ASCII mode (one with ``.``, which could match half a character) keeps Unicode mode.
    """
    ascii_mode = f"(?{flags}-u:{pattern})"
    try:
        pl.Series([""]).str.contains(ascii_mode)
    except pl.exceptions.ComputeError:
        return f"(?{flags}:{pattern})" if flags else f"(?:{pattern})"
    return ascii_mode


class WaybillRecogniser(Recogniser):
    """Waybill numbers of this and other carriers; the carrier is in the reason."""

    role: ClassVar[Role] = "waybill"
    context_words: ClassVar[tuple[str, ...]] = (
        "运单号",
        "运单",
        "快递单号",
        "单号",
        "运单编号",
        "物流单号",
        "快递",
        "waybill",
        "tracking",
        "trackingno",
        "trackingnumber",
        "awb",
    )
    score: ClassVar[float] = 0.7
    ours_score: ClassVar[float] = 0.9

    def __init__(self, *, waybill_pattern: str = DEFAULT_WAYBILL_PATTERN) -> None:
        try:
            re.compile(waybill_pattern)
        except re.error as exc:
            raise BadInput(f"waybill pattern: not a regular expression ({exc})") from exc
        self.waybill_pattern = waybill_pattern
        self.carriers: tuple[tuple[str, str], ...] = ((OURS, waybill_pattern), *OTHER_CARRIERS)
        self._whole = [(name, re.compile(pattern, re.ASCII)) for name, pattern in self.carriers]
        self._whole_rust = [(name, _rust_ascii(pattern)) for name, pattern in self.carriers]
        # One pass over a column for "is it any carrier's number" (the carrier is asked apart).
        self._any_whole = "^(?:" + "|".join(f"(?:{p})" for _, p in self._whole_rust) + ")$"
        alternatives = "|".join(f"(?:{pattern})" for _, pattern in self.carriers)
        self.candidates = rf"\b(?i:{alternatives})\b"
        self._rust_candidates = rf"(?-u:\b){_rust_ascii(alternatives, 'i')}(?-u:\b)"

    def rust_candidates(self) -> str:
        return self._rust_candidates

    def carrier_of(self, normalised: str) -> str:
        """Which carrier's format a canonical waybill number has: ``ours``, ``sf``, ``jd``…"""
        for name, pattern in self._whole:
            if pattern.fullmatch(normalised):
                return name
        raise BadInput("waybill: not the format of this carrier nor of a known other carrier")

    def normalise(self, cell: str) -> str | None:
        value = nfkc(cell).strip().upper()
        if any(pattern.fullmatch(value) for _, pattern in self._whole):
            return value
        return None

    def _upper(self, cells: pl.Series) -> pl.Series:
        return strip_series(nfkc_series(cells)).str.to_uppercase()

    def carrier_batch(self, cells: pl.Series) -> pl.Series:
        """The carrier of each cell (``ours``, ``sf``…), null where it is not a waybill."""
        value = self._upper(cells)
        carrier = pl.Series(cells.name, [None] * len(cells), dtype=pl.String)
        for name, pattern in self._whole_rust:  # in priority order: the first match wins
            hit = value.str.contains(f"^{pattern}$") & carrier.is_null()
            carrier = pl.select(pl.when(hit).then(pl.lit(name)).otherwise(carrier)).to_series()
        return carrier.alias(cells.name)

    def carrier_expr(self, cell: pl.Expr) -> pl.Expr:
        """:meth:`carrier_batch` as an expression."""
        return cell.map_batches(self.carrier_batch, return_dtype=pl.String, is_elementwise=True)

    def normalise_batch(self, cells: pl.Series) -> pl.Series:
        value = self._upper(cells)
        return keep(value, value.str.contains(self._any_whole).fill_null(value=False))

    def reason(self, normalised: str) -> str:
        return f"carrier:{self.carrier_of(normalised)}"

    def score_of(self, normalised: str) -> float:
        return self.ours_score if self.carrier_of(normalised) == OURS else self.score
