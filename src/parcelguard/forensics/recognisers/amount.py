"""Money amounts: ¥1,234.50, 1234元, RMB 12.5, 人民币 30; canonical: yuan with two decimals.

Prices and gains matter to the legal assessment (illegal gains in yuan) and tell what a
record was sold for. A bare number is money only with a decimal point and one or two
decimals (12.50) as a whole cell; in free text a currency sign or unit is required, since
any number could otherwise be an amount.
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

_NUMBER: Final = r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]{1,2})?|[0-9]+(?:\.[0-9]{1,2})?"
_BEFORE: Final = r"(?:¥|(?i:RMB|CNY)|人民币)"
_AFTER: Final = r"(?:元|块|圆|(?i:RMB|CNY))"
WHOLE: Final = (
    rf"{_BEFORE}[ ]{{0,2}}({_NUMBER})(?:[ ]{{0,2}}元)?"
    rf"|({_NUMBER})[ ]{{0,2}}{_AFTER}"
    r"|([0-9]+\.[0-9]{1,2})"
)
CANDIDATES: Final = (
    rf"(?:¥|\b(?i:RMB|CNY)|人民币)[ ]{{0,2}}(?:{_NUMBER})\b(?:[ ]{{0,2}}元)?"
    rf"|\b(?:{_NUMBER})[ ]{{0,2}}(?:元|块|圆|(?i:RMB|CNY)\b)"
)


def canonical_yuan(number: str) -> str:
    """``1,234.5`` → ``1234.50``: no grouping, no leading zeros, two decimals."""
    whole, _, fraction = number.replace(",", "").partition(".")
    return f"{whole.lstrip('0') or '0'}.{fraction.ljust(2, '0')}"


class AmountRecogniser(Recogniser):
    """Amounts of money in yuan; canonical form: 1234.50."""

    role: ClassVar[Role] = "amount"
    context_words: ClassVar[tuple[str, ...]] = (
        "金额",
        "价格",
        "单价",
        "总价",
        "货款",
        "运费",
        "代收",
        "代收货款",
        "实付",
        "付款",
        "price",
        "amount",
        "total",
        "fee",
        "cod",
    )
    score: ClassVar[float] = 0.6
    candidates = CANDIDATES

    def __init__(self) -> None:
        self._whole = WholeCell.of(WHOLE)

    def normalise(self, cell: str) -> str | None:
        match = self._whole.match(cell)
        if match is None:
            return None
        number = next(group for group in match.groups() if group is not None)
        return canonical_yuan(number)

    def normalise_batch(self, cells: pl.Series) -> pl.Series:
        parts = self._whole.groups(cells)
        number = pl.select(
            pl.coalesce([pl.lit(parts.struct.field(str(i))) for i in (1, 2, 3)])
        ).to_series()
        digits = number.str.replace_all(",", "", literal=True)
        whole = digits.str.extract(r"^([0-9]+)", 1).str.strip_chars_start("0")
        fraction = digits.str.extract(r"\.([0-9]+)$", 1).fill_null("")
        canonical = pl.select(
            pl.when(pl.lit(whole) == "").then(pl.lit("0")).otherwise(pl.lit(whole))
            + "."
            + pl.lit(fraction).str.pad_end(2, "0")
        ).to_series()
        return keep(canonical, number.is_not_null()).alias(cells.name)

    def reason(self, normalised: str) -> str:
        return "currency"
