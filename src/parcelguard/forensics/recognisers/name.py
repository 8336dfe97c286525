"""Chinese personal names: two to four Han characters starting with a known surname.

Names are the least certain role: most two-character Han words start with some surname's
character (王府, 高速), so a name scores low and never makes a person on its own (ingest
needs a phone or an ID for that). What helps: the surname table (Faker's zh_CN surnames
with their frequencies plus the compound ones, :func:`parcelguard.simulate.reference.surnames`),
a courtesy title that is stripped (张先生 is not a full name, 张三先生 is 张三), and words that
are obviously not names: place names of the district table, and words ending like a place
or an organisation (…市, …区, …路, 有限公司).

Canonical form: :func:`parcelguard.core.names.normalise_name` of the name without its title,
the form the vault's name blind index is computed on.
"""

from __future__ import annotations

import functools
import re
from typing import ClassVar, Final

import polars as pl

from parcelguard.core.names import COMPOUND_SURNAMES, InvalidName, normalise_name
from parcelguard.forensics.recognisers.base import (
    RUST_PY_SPACE,
    Recogniser,
    Role,
    keep,
    nfkc_series,
)

TITLES: Final = ("先生", "女士", "小姐")
HAN: Final = "一-鿿"
# Last characters of places, roads and organisations, never of a person's name in practice.
NOT_NAME_ENDINGS: Final = "省市区县镇乡村路街道巷弄号楼室栋幢店厂司局院部馆园站场所处队社"
NOT_NAME_WORDS: Final = (
    "公司",
    "有限",
    "集团",
    "中心",
    "大学",
    "学校",
    "医院",
    "银行",
    "超市",
    "快递",
    "物流",
    "先生",
    "女士",
    "小姐",
    "收件",
    "地址",
    "电话",
)
_TITLE_LENGTH: Final = 2
assert all(len(t) == _TITLE_LENGTH for t in TITLES)
_PLAIN_HAN_RUST: Final = rf"^[{HAN}]{{1,16}}$"
_NAME_SPACES_RUST: Final = rf"[{RUST_PY_SPACE}]+"


@functools.cache
def surname_sets() -> tuple[frozenset[str], frozenset[str]]:
    """``(single, compound)`` surnames from the bundled table."""
    from parcelguard.simulate.reference import surnames

    names = set(surnames()[0].tolist()) | COMPOUND_SURNAMES
    return (
        frozenset(n for n in names if len(n) == 1),
        frozenset(n for n in names if len(n) == 2),
    )


@functools.cache
def place_words() -> frozenset[str]:
    """Province, city and district names, full and without their suffix (湖北省, 湖北)."""
    from parcelguard.simulate.reference import districts

    table = districts()
    words: set[str] = set()
    for column in (table.province, table.city, table.name, table.phone_province):
        for name in set(column.tolist()):
            words.add(name)
            short = re.sub(r"(?:自治[州县旗]|地区|新区|[省市区县旗盟])$", "", name)
            if len(short) >= 2:
                words.add(short)
    return frozenset(words)


@functools.cache
def _place_words_sorted() -> list[str]:
    return sorted(place_words())


@functools.cache
def _shape() -> str:
    single, compound = surname_sets()
    return (
        rf"(?:{'|'.join(sorted(compound))})[{HAN}]{{1,2}}"
        rf"|(?:{'|'.join(sorted(single))})[{HAN}]{{1,3}}"
    )


@functools.cache
def _not_a_name() -> str:
    return rf"[{NOT_NAME_ENDINGS}]$|{'|'.join(NOT_NAME_WORDS)}"


class NameRecogniser(Recogniser):
    """Chinese personal names; canonical form: normalise_name without the title."""

    role: ClassVar[Role] = "name"
    context_words: ClassVar[tuple[str, ...]] = (
        "姓名",
        "收件人",
        "收货人",
        "联系人",
        "客户",
        "客户姓名",
        "收件人姓名",
        "寄件人",
        "名字",
        "name",
        "consignee",
        "recipient",
        "customer",
    )
    # Low: a shape and a surname are weak evidence (see the module docstring).
    score: ClassVar[float] = 0.4
    # Maximal runs of Han characters; normalise() keeps those that are names.
    candidates = f"[{HAN}]+"

    def __init__(self) -> None:
        self._shape = re.compile(_shape())
        self._not_a_name = re.compile(_not_a_name())

    def normalise(self, cell: str) -> str | None:
        try:
            name = normalise_name(cell)
        except InvalidName:
            return None
        for title in TITLES:
            if name.endswith(title) and len(name) > len(title):
                name = name[: -len(title)]
                break
        if not self._shape.fullmatch(name) or self._not_a_name.search(name):
            return None
        if name in place_words():
            return None
        return name

    def normalise_batch(self, cells: pl.Series) -> pl.Series:
        cells = cells.cast(pl.String)
        # Most cells are plain Han already: only the others are folded (NFKC, dots, spaces).
        plain = cells.str.contains(_PLAIN_HAN_RUST).fill_null(value=False)
        name = cells
        if not plain.all():
            other = ~plain
            folded = (
                nfkc_series(cells.filter(other))
                .str.replace_many(["•", "・", "．"], ["·", "·", "·"])
                .str.replace_all(_NAME_SPACES_RUST, "")
                .str.to_lowercase()
            )
            name = cells.scatter(other.arg_true(), folded)
        # The titles are two characters each and none ends another: one is cut at most.
        size = name.str.len_chars()
        titled = pl.select(pl.any_horizontal([name.str.ends_with(t) for t in TITLES])).to_series()
        name = pl.select(
            pl.when(titled & (size > _TITLE_LENGTH))
            .then(name.str.slice(0, size - _TITLE_LENGTH))
            .otherwise(name)
        ).to_series()
        good = (
            name.str.contains(f"^(?:{_shape()})$")
            & ~name.str.contains(_not_a_name())
            & ~name.is_in(_place_words_sorted())
        )
        return keep(name, good).alias(cells.name)

    def reason(self, normalised: str) -> str:
        compound = normalised[:2] in surname_sets()[1] and len(normalised) >= 3
        return "compound_surname" if compound else "surname"
