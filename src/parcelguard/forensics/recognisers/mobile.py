"""Mainland mobile numbers, in every spelling a leaked file uses, checked against real segments.

The canonical form is exactly :func:`parcelguard.core.phone.normalise_cn_mobile`'s, because
the vault's blind indexes are computed on it: a leaked number matches a waybill only if both
sides normalise identically. On top of that shape check, the 3-digit segment must be one that
carriers really issue (the bundled ``phone`` table, see
:func:`parcelguard.simulate.reference.mobile_segments`), or the number's own 7-digit prefix
must be listed there, so that made-up numbers (120..., an unlisted 140...) count as untrue
records and a listed number is never excluded as untrue, and a number in this carrier's virtual-number ranges is
left to :class:`~parcelguard.forensics.recognisers.virtual_number.VirtualNumberRecogniser`.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from typing import ClassVar, Final

import polars as pl

from parcelguard.core.phone import InvalidPhone, normalise_cn_mobile
from parcelguard.forensics.recognisers.base import (
    RUST_PY_SPACE,
    Recogniser,
    Role,
    keep,
    nfkc_series,
)
from parcelguard.vnum.numbers import DEFAULT_PREFIXES, check_prefixes

# Candidates in free text: an optional +86 / 0086 / 86 (bracketed or not), then 11 digits
# starting with 1, with up to two spaces, dashes or dots before each of the last eight, and
# no digit or letter on either side (so a run inside a waybill or a longer number is not
# a phone). Shared with the virtual-number recogniser.
PHONE_CANDIDATES: Final = (
    r"(?:(?:\(?\+86\)?|\(?\b0086\)?|\(?\b86\)?)[ \-]{0,2}|\b)1[0-9]{2}(?:[ \-.]{0,2}[0-9]){8}\b"
)
# normalise_cn_mobile's separators, in Python and in Rust syntax (Python's \s is wider than Rust's).
PHONE_SEPARATORS: Final = re.compile(r"[\s\-‐‑‒–—―()（）.·]+")
PHONE_SEPARATORS_RUST: Final = rf"[{RUST_PY_SPACE}\-‐‑‒–—―()（）.·]+"
# A segment is real when the table lists at least this many of its 10,000 7-digit prefixes:
# issued segments have thousands (174: 1,037; 196: 1,347), while 140-144, 154, 160, 161,
# 163, 164, 168, 169, 179 and 194 hold 18-204 stray entries (IoT and data-only ranges).
MIN_PREFIXES_PER_SEGMENT: Final = 1_000


@functools.cache
def _sorted_real_segments() -> list[str]:
    return sorted(real_segments())


@functools.cache
def _sorted_stray_prefixes() -> list[str]:
    return sorted(stray_prefixes())


@functools.cache
def real_segments() -> frozenset[str]:
    """The 3-digit mobile segments carriers issue, from the bundled prefix table."""
    from parcelguard.simulate.reference import mobile_segments

    segment, counts = _segment_counts(tuple(mobile_segments().prefix.tolist()))
    return frozenset(
        str(s) for s, n in zip(segment, counts, strict=True) if n >= MIN_PREFIXES_PER_SEGMENT
    )


@functools.cache
def stray_prefixes() -> frozenset[str]:
    """Listed 7-digit prefixes outside the real segments (IoT and data-only ranges).

    Art. 11 excludes only records proven untrue: a number whose own prefix the table lists
    has been issued, so it is not proven untrue even though its segment is a stray one.
    """
    real = real_segments()
    return frozenset(f"{p:07d}" for p in known_prefixes() if f"{p // 10_000}" not in real)


def is_real_mobile(number: str) -> bool:
    """An 11-digit number in a real segment, or with a prefix the table lists."""
    return number[:3] in real_segments() or number[:7] in stray_prefixes()


def real_mobile_series(number: pl.Series) -> pl.Series:
    """:func:`is_real_mobile` over a column of 11-digit numbers (null stays null)."""
    return number.str.slice(0, 3).is_in(_sorted_real_segments()) | number.str.slice(0, 7).is_in(
        _sorted_stray_prefixes()
    )


@functools.cache
def known_prefixes() -> frozenset[int]:
    """Every 7-digit prefix in the bundled table (version 2312), for grading a find."""
    from parcelguard.simulate.reference import mobile_segments

    return frozenset(mobile_segments().prefix.tolist())


def _segment_counts(prefixes: tuple[int, ...]) -> tuple[list[int], list[int]]:
    counts: dict[int, int] = {}
    for prefix in prefixes:
        counts[prefix // 10_000] = counts.get(prefix // 10_000, 0) + 1
    ordered = sorted(counts)
    return ordered, [counts[s] for s in ordered]


def eleven_digits(cell: str) -> str | None:
    """:func:`eleven_digits_expr` in Python: the digits normalise_cn_mobile would check."""
    compact = PHONE_SEPARATORS.sub("", unicodedata.normalize("NFKC", cell))
    for country in ("+86", "0086", "86"):
        if compact.startswith(country) and len(compact) == len(country) + 11:
            compact = compact[len(country) :]
            break
    return compact if len(compact) == 11 and compact.isascii() and compact.isdigit() else None


def compact_series(cells: pl.Series) -> pl.Series:
    """The cells as normalise_cn_mobile sees them after NFKC and separator removal."""
    return nfkc_series(cells).str.replace_all(PHONE_SEPARATORS_RUST, "")


def eleven_digits_of(cells: pl.Series) -> pl.Series:
    """:func:`eleven_digits_series` of the cleaned cells; plain 11-digit cells skip the cleaning.

    Most phone cells of a leaked file are written plainly, and NFKC plus the separators'
    regex cost more than the rest of the recogniser together.
    """
    cells = cells.cast(pl.String)
    plain = cells.str.contains(r"^[0-9]{11}$").fill_null(value=False)
    if plain.all():
        return cells
    other = ~plain
    cleaned = eleven_digits_series(compact_series(cells.filter(other)))
    return cells.scatter(other.arg_true(), cleaned)


def eleven_digits_series(compact: pl.Series) -> pl.Series:
    """The 11 ASCII digits left after an optional country prefix, else null.

    normalise_cn_mobile strips +86 / 0086 / 86 only when exactly 11 characters follow (the
    three cases differ in length, so at most one applies); the rest must be ASCII digits.
    Lengths and slices instead of one capturing regex: capture groups cost Rust's regex
    three times a plain match.
    """
    size = compact.str.len_chars()
    number = pl.select(
        pl.when(size == 11)
        .then(compact)
        .when((size == 13) & compact.str.starts_with("86"))
        .then(compact.str.slice(2))
        .when((size == 14) & compact.str.starts_with("+86"))
        .then(compact.str.slice(3))
        .when((size == 15) & compact.str.starts_with("0086"))
        .then(compact.str.slice(4))
    ).to_series()
    return keep(number, number.str.contains(r"^[0-9]{11}$"))


def starts_with_any(numbers: pl.Series, prefixes: Sequence[str]) -> pl.Series:
    """Whether each number starts with one of ``prefixes`` (null stays null)."""
    result = numbers.str.starts_with(prefixes[0])
    for prefix in prefixes[1:]:
        result = result | numbers.str.starts_with(prefix)
    return result


class MobileRecogniser(Recogniser):
    """Chinese mobile numbers; canonical form: 11 digits (normalise_cn_mobile's)."""

    role: ClassVar[Role] = "mobile"
    context_words: ClassVar[tuple[str, ...]] = (
        "手机",
        "手机号",
        "手机号码",
        "电话",
        "联系电话",
        "联系方式",
        "收件人电话",
        "收货人电话",
        "移动电话",
        "号码",
        "tel",
        "phone",
        "mobile",
        "cell",
        "contact",
    )
    score: ClassVar[float] = 0.75
    # A number whose 7-digit prefix is in the table is more certainly real.
    known_prefix_score: ClassVar[float] = 0.9
    candidates = PHONE_CANDIDATES

    def __init__(self, *, vnum_prefixes: Sequence[str] = DEFAULT_PREFIXES) -> None:
        self.vnum_prefixes = check_prefixes(vnum_prefixes)

    def normalise(self, cell: str) -> str | None:
        try:
            number = normalise_cn_mobile(cell)
        except InvalidPhone:
            return None
        if not is_real_mobile(number) or number.startswith(self.vnum_prefixes):
            return None
        return number

    def rejection(self, cell: str) -> str | None:
        """Why a mobile-shaped cell is not a mobile ("mobile_unknown_segment"), else None.

        Shaped means 1 and ten more digits after the usual cleaning; Art. 11 of
        法释〔2017〕10号 excludes untrue records, and a number from a segment no carrier
        issues is one. Virtual numbers are not rejected here: they are another role.
        """
        number = eleven_digits(cell)
        if number is None or not number.startswith("1") or is_real_mobile(number):
            return None
        return "mobile_unknown_segment"

    def normalise_batch(self, cells: pl.Series) -> pl.Series:
        number = eleven_digits_of(cells)
        real = real_mobile_series(number)
        return keep(number, real & ~starts_with_any(number, self.vnum_prefixes))

    def rejection_batch(self, cells: pl.Series) -> pl.Series:
        number = eleven_digits_of(cells)
        untrue = number.str.starts_with("1") & ~real_mobile_series(number)
        reason = pl.Series(cells.name, ["mobile_unknown_segment"] * len(cells), dtype=pl.String)
        return keep(reason, untrue)

    def score_of(self, normalised: str) -> float:
        known = int(normalised[:7]) in known_prefixes()
        return self.known_prefix_score if known else self.score

    def reason(self, normalised: str) -> str:
        return "mobile_prefix" if int(normalised[:7]) in known_prefixes() else "mobile_segment"
