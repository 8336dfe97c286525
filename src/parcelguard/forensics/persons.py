"""From rows of cells to distinct persons, counted as Art. 11 of 法释〔2017〕10号 counts them.

Art. 11: the number of records is the number seized, less those shown to be untrue or
duplicated. So a row becomes a *record* only when it carries a mobile number or a resident
ID number (a name alone identifies nobody); two records sharing a mobile or an ID number are
the same person, transitively (a connected component, not a group-by on one column); rows
whose only number is a virtual number of this carrier are kept apart as their own records,
because such a number names the employee it was issued to, not a person. Every row that
does not become a record gets one reason, and the reasons are counted.

Normalisation is Polars over whole columns with the recognisers' expressions; only the
distinct persons cross into Python, to be blind-indexed. The plaintext stays in memory:
what leaves this module is the persons table of keyed indexes and masked forms.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pyarrow as pa

from parcelguard.core.masking import MASK
from parcelguard.core.names import COMPOUND_SURNAMES
from parcelguard.forensics.case import PERSONS_SCHEMA
from parcelguard.forensics.classify import MERGED, Classification
from parcelguard.forensics.decoding import REPLACEMENT
from parcelguard.forensics.hashers import hash_messages
from parcelguard.forensics.reading import LINE, NFIELDS, TEXT, field
from parcelguard.vault.blind_index import (
    ID_NUMBER_DOMAIN,
    INDEX_BYTES,
    NAME_PHONE_DOMAIN,
    PHONE_DOMAIN,
    SEPARATOR,
    BlindIndexer,
)

if TYPE_CHECKING:
    from parcelguard.forensics.recognisers.base import Recogniser

ORDER = "order"
MOBILE = "mobile"
ID_NUMBER = "id_number"
NAME = "name"
ADCODE = "adcode"
VNUM = "virtual_number"
WAYBILL = "waybill"
REASON = "reason"
ROW_COLUMNS = (LINE, ORDER, MOBILE, ID_NUMBER, NAME, ADCODE, VNUM, WAYBILL, REASON)
ROW_SCHEMA = {
    LINE: pl.Int64,
    ORDER: pl.Int64,
    MOBILE: pl.String,
    ID_NUMBER: pl.String,
    NAME: pl.String,
    ADCODE: pl.String,
    VNUM: pl.String,
    WAYBILL: pl.String,
    REASON: pl.String,
}

# Rejection reasons (see _rejected for the order in which they are decided).
LINE_TOO_LONG = "line_too_long"
UNDECODABLE = "undecodable"
TRUNCATED = "truncated"
RAGGED = "ragged"
INVALID_PHONE = "invalid_phone"
INVALID_ID = "invalid_id"
NO_PHONE_OR_ID = "no_phone_or_id"
REASONS = (LINE_TOO_LONG, UNDECODABLE, TRUNCATED, RAGGED, INVALID_PHONE, INVALID_ID, NO_PHONE_OR_ID)
# Untrue under Art. 11: a number that cannot exist (no real segment, a wrong check digit).
UNTRUE = frozenset({INVALID_PHONE, INVALID_ID})

# Eleven digits from a 1, maybe spaced or dashed (full-width too), alone in the text.
_PHONE_SHAPED = (
    r"(?:^|[^0-9０-９])(?:(?:[+＋]?[8８][6６]|00[8８][6６])[ \-]?)?"
    r"[1１][0-9０-９](?:[ \-.－]?[0-9０-９]){9}(?:[^0-9０-９]|$)"
)
_DIGITS = r"[0-9０-９](?:[ \-.－]*[0-9０-９]){6}"  # seven digits, maybe spaced: meant as a number
_NULL = pl.lit(None, dtype=pl.String)
_PERSON_ROLES = frozenset({"mobile", "virtual_number", "id_number", "name", "address", "waybill"})


@dataclass(frozen=True, slots=True)
class RowPlan:
    """Which cell columns feed which role, from a :class:`Classification`."""

    width: int
    phone_columns: tuple[str, ...]
    id_columns: tuple[str, ...]
    name_columns: tuple[str, ...]
    address_columns: tuple[str, ...]
    waybill_columns: tuple[str, ...]
    merged: tuple[tuple[str, tuple[str, ...]], ...]
    ragged_possible: bool
    needed: tuple[int, ...]

    @classmethod
    def of(cls, classification: Classification, width: int, *, ragged_possible: bool) -> RowPlan:
        def cols(*roles: str) -> tuple[str, ...]:
            return tuple(field(c.index) for c in classification.columns if c.role in roles)

        return cls(
            width=width,
            phone_columns=cols("mobile", "virtual_number"),
            id_columns=cols("id_number"),
            name_columns=cols("name"),
            address_columns=cols("address"),
            waybill_columns=cols("waybill"),
            merged=tuple(
                (field(c.index), c.roles) for c in classification.columns if c.role == MERGED
            ),
            ragged_possible=ragged_possible,
            needed=tuple(
                c.index
                for c in classification.columns
                if c.role in _PERSON_ROLES or c.role == MERGED
            ),
        )


def masked_names(name: pl.Expr) -> pl.Expr:
    """:func:`parcelguard.core.masking.mask_name` as an expression (tested to agree).

    The surname (one character, two for a compound one) is kept unless it is the whole
    name; a name not starting with a Han character keeps its first character only.
    """
    size = name.str.len_chars()
    han = name.str.contains(r"^[\x{4e00}-\x{9fff}\x{3400}-\x{4dbf}]")
    compound = name.str.slice(0, 2).is_in(sorted(COMPOUND_SURNAMES))
    keep = pl.min_horizontal(pl.when(han & compound).then(2).otherwise(1), size - 1)
    return (
        pl.when(size <= 1)
        .then(pl.lit(MASK))
        .otherwise(name.str.slice(0, keep).str.pad_end(size, MASK))
        .alias(NAME)
    )


def _coalesce(exprs: Sequence[pl.Expr]) -> pl.Expr:
    if not exprs:
        return _NULL
    return exprs[0] if len(exprs) == 1 else pl.coalesce(exprs)


def normalise_rows(
    cells: pl.DataFrame,
    plan: RowPlan,
    recognisers: Mapping[str, Recogniser],
    *,
    order_offset: int = 0,
    unterminated_line: int | None = None,
    damaged_possible: bool = False,
) -> pl.DataFrame:
    """Each row's canonical values and, where it cannot be a record, its reason.

    ``cells`` has ``line``, ``text``, ``nfields`` and ``f0``..; blank lines and the header
    are already gone. ``unterminated_line`` is the file's last line when it has no line
    break: with too few cells it was cut, so its last cell is not trusted.
    """
    if cells.is_empty():
        return pl.DataFrame(schema=ROW_SCHEMA)
    columns = [field(i) for i in plan.needed if field(i) in cells.columns]
    frame = cells
    if damaged_possible:
        # A cell with undecodable bytes is not read at all (a damaged name would give a
        # wrong index); the rest of its row still counts.
        frame = frame.with_columns(
            pl.col(TEXT).str.contains(REPLACEMENT, literal=True).alias("_damaged"),
            *[
                pl.when(pl.col(c).str.contains(REPLACEMENT, literal=True))
                .then(None)
                .otherwise(pl.col(c))
                .alias(c)
                for c in columns
            ],
        )
    else:
        frame = frame.with_columns(pl.lit(value=False).alias("_damaged"))
    truncated = (
        (pl.col(LINE) == unterminated_line) & (pl.col(NFIELDS) < plan.width)
        if unterminated_line is not None and plan.ragged_possible
        else pl.lit(value=False)
    )
    ragged = (pl.col(NFIELDS) != plan.width) if plan.ragged_possible else pl.lit(value=False)
    frame = frame.with_columns(truncated.alias("_truncated"), ragged.alias("_ragged"))
    if unterminated_line is not None and plan.ragged_possible:
        # The cut cell of a truncated line is the last one it has.
        frame = frame.with_columns(
            *[
                pl.when(pl.col("_truncated") & (pl.col(NFIELDS) == int(c[1:]) + 1))
                .then(None)
                .otherwise(pl.col(c))
                .alias(c)
                for c in columns
            ]
        )
    regular = frame.filter(~(pl.col("_ragged") & ~pl.col("_truncated")))
    odd = frame.filter(pl.col("_ragged") & ~pl.col("_truncated"))
    parts = [_values(regular, plan, recognisers, whole_line=False)]
    if not odd.is_empty():
        parts.append(_values(odd, plan, recognisers, whole_line=True))
    out = pl.concat(parts) if len(parts) > 1 else parts[0]
    return out.with_columns((pl.col(LINE) + order_offset).alias(ORDER)).select(ROW_COLUMNS)


def _values(
    frame: pl.DataFrame,
    plan: RowPlan,
    recognisers: Mapping[str, Recogniser],
    *,
    whole_line: bool,
) -> pl.DataFrame:
    """The canonical values of rows; ``whole_line`` also searches the line's text (ragged)."""

    def merged_with(*roles: str) -> list[pl.Expr]:
        return [pl.col(c) for c, inside in plan.merged if any(r in inside for r in roles)]

    free_phone = merged_with("mobile", "virtual_number")
    free_id = merged_with("id_number")
    free_name = merged_with("name")
    free_address = merged_with("address")
    free_waybill = merged_with("waybill")
    if whole_line:
        text = pl.col(TEXT)
        # Not the address: its search of free text is slow, and the district is usually in
        # its own cell still; the line's text is searched only where that cell gave none.
        free_phone, free_id, free_waybill = (
            [*free_phone, text],
            [*free_id, text],
            [*free_waybill, text],
        )
    phones = [pl.col(c) for c in plan.phone_columns]

    def values(role: str, cells: Sequence[pl.Expr], free: Sequence[pl.Expr]) -> pl.Expr:
        recogniser = recognisers.get(role)
        if recogniser is None:
            return _NULL
        return _coalesce(
            [recogniser.expr(c) for c in cells] + [recogniser.extract(c) for c in free]
        )

    def cols(names: Sequence[str]) -> list[pl.Expr]:
        return [pl.col(c) for c in names]

    # Addresses repeat across a file (households, buildings) and their recogniser is the
    # costliest: it recognises each distinct address once and remembers it.
    address_of = recognisers.get("address")
    adcodes = [address_of.expr(c) for c in cols(plan.address_columns)] if address_of else []
    mobile = values("mobile", phones, free_phone)
    vnum = values("virtual_number", phones, free_phone)
    id_number = values("id_number", cols(plan.id_columns), free_id)
    name = values("name", cols(plan.name_columns), free_name)
    adcode = _coalesce([*adcodes, values("address", [], free_address)])
    waybill = values("waybill", cols(plan.waybill_columns), free_waybill)
    valued = frame.with_columns(
        mobile.alias(MOBILE),
        vnum.alias(VNUM),
        id_number.alias(ID_NUMBER),
        name.alias(NAME),
        adcode.alias(ADCODE),
        waybill.alias(WAYBILL),
    )
    # A number in this carrier's virtual ranges is a virtual number, not the person's mobile.
    valued = valued.with_columns(
        pl.when(pl.col(VNUM).is_not_null()).then(None).otherwise(pl.col(MOBILE)).alias(MOBILE)
    )
    address = recognisers.get("address")
    if whole_line and address is not None:
        found = valued.filter(pl.col(ADCODE).is_not_null())
        searched = valued.filter(pl.col(ADCODE).is_null()).with_columns(
            address.extract(pl.col(TEXT)).alias(ADCODE)
        )
        valued = pl.concat([found, searched])
    identified = (
        pl.col(MOBILE).is_not_null() | pl.col(ID_NUMBER).is_not_null() | pl.col(VNUM).is_not_null()
    )
    valued = valued.with_columns(identified.alias("_identified"))
    kept = valued.filter(pl.col("_identified")).with_columns(_NULL.alias(REASON))
    rest = valued.filter(~pl.col("_identified"))
    if rest.is_empty():
        return kept
    return pl.concat([kept, _rejected(rest, plan, recognisers, free_phone, whole_line=whole_line)])


def _rejected(
    rows: pl.DataFrame,
    plan: RowPlan,
    recognisers: Mapping[str, Recogniser],
    free_phone: Sequence[pl.Expr],
    *,
    whole_line: bool,
) -> pl.DataFrame:
    """Why rows without an identifier are not records: the first reason that applies.

    A cut last line is ``truncated`` whatever its cells hold (a cut number is not untrue).
    Then untrue: a number shaped like a mobile (or an ID number) that no carrier issued (or
    whose check digit is wrong) is untrue under Art. 11 wherever a ragged line's cells fell.
    """
    positional = [pl.col(c) for c in plan.phone_columns]
    if whole_line:
        shaped = [c.str.contains(_PHONE_SHAPED) for c in [*positional, *free_phone]]
    else:
        shaped = [c.str.contains(_DIGITS) for c in positional]
        shaped += [c.str.contains(_PHONE_SHAPED) for c in free_phone]
    phone_cell = pl.any_horizontal(shaped) if shaped else pl.lit(value=False)
    id_shaped = [pl.col(c).str.contains(_DIGITS) for c in plan.id_columns]
    id_cell = pl.any_horizontal(id_shaped) if id_shaped else pl.lit(value=False)
    reason = (
        pl.when(pl.col("_damaged"))
        .then(pl.lit(UNDECODABLE))
        .when(pl.col("_truncated"))
        .then(pl.lit(TRUNCATED))
        .when(phone_cell & ~_fixed_line(plan, recognisers))
        .then(pl.lit(INVALID_PHONE))
        .when(id_cell)
        .then(pl.lit(INVALID_ID))
        .when(pl.col("_ragged"))
        .then(pl.lit(RAGGED))
        .otherwise(pl.lit(NO_PHONE_OR_ID))
    )
    return rows.with_columns(reason.alias(REASON))


def _fixed_line(plan: RowPlan, recognisers: Mapping[str, Recogniser]) -> pl.Expr:
    """A phone cell holding a fixed line: a true number, just not one that makes a person."""
    fixed = recognisers.get("fixed_line")
    if fixed is None or not plan.phone_columns:
        return pl.lit(value=False)
    return pl.any_horizontal([fixed.expr(pl.col(c)).is_not_null() for c in plan.phone_columns])


# -- deduplication into persons -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PersonCounts:
    """What Art. 11 asks for: records kept, persons, duplicates, virtual-number records."""

    rows_kept: int
    person_records: int
    virtual_number_records: int
    duplicates_excluded: int
    persons_with_mobile: int
    persons_with_id: int
    persons_with_mobile_and_id: int
    # Persons joined transitively: more than one mobile, or more than one ID number.
    persons_with_several_numbers: int

    def as_dict(self) -> dict[str, int]:
        return {
            "rows_kept": self.rows_kept,
            "person_records": self.person_records,
            "virtual_number_records": self.virtual_number_records,
            "duplicates_excluded": self.duplicates_excluded,
            "persons_with_mobile": self.persons_with_mobile,
            "persons_with_id": self.persons_with_id,
            "persons_with_mobile_and_id": self.persons_with_mobile_and_id,
            "persons_with_several_numbers": self.persons_with_several_numbers,
        }


def _mobile_key(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.Int64, strict=False)


def _id_key(expr: pl.Expr) -> pl.Expr:
    """An 18-character ID number as one integer (17 digits, then the check digit, X as 10)."""
    check = expr.str.slice(17, 1)
    digit = pl.when(check == "X").then(10).otherwise(check.cast(pl.Int64, strict=False))
    return expr.str.slice(0, 17).cast(pl.Int64, strict=False) * 11 + digit


def _id_text(key: pl.Expr) -> pl.Expr:
    check = key % 11
    last = pl.when(check == 10).then(pl.lit("X")).otherwise(check.cast(pl.String))
    return (key // 11).cast(pl.String).str.zfill(17) + last


def compact(kept: pl.DataFrame) -> pl.DataFrame:
    """Kept rows with numbers held as integers: a third of the memory of ten million rows.

    Mobile and virtual numbers are 11-digit integers, an ID number one integer (see
    :func:`_id_key`), the district a 6-digit one; names and waybill numbers stay text.
    """
    return kept.select(
        pl.col(ORDER),
        pl.col(LINE).cast(pl.Int64),
        _mobile_key(pl.col(MOBILE)).alias("_m"),
        _id_key(pl.col(ID_NUMBER)).alias("_i"),
        pl.col(NAME),
        pl.col(ADCODE).cast(pl.UInt32, strict=False).alias("_ad"),
        pl.col(VNUM).cast(pl.Int64, strict=False).alias("_v"),
        pl.col(WAYBILL),
    )


COMPACT_SCHEMA = {
    ORDER: pl.Int64,
    LINE: pl.Int64,
    "_m": pl.Int64,
    "_i": pl.Int64,
    NAME: pl.String,
    "_ad": pl.UInt32,
    "_v": pl.Int64,
    WAYBILL: pl.String,
}


def _components(pairs: pl.DataFrame) -> pl.Series:
    """The connected component of each distinct (mobile, ID) pair, aligned with ``pairs``.

    Label propagation: every pair takes the smallest label of any pair sharing its mobile or
    its ID, until nothing changes. Labels start as each pair's first row order, so a
    component's label is its first row's. Only pairs that share a number with another pair
    take part: a pair whose mobile and ID are both its own is a component already, and in
    a leaked file nearly every pair is one.
    """
    return _linked(pairs)[0]


def _linked(pairs: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    """:func:`_components`, and whether each pair shares a number with another pair."""
    shared = pl.lit(value=False)
    for column in ("_m", "_i"):
        counts = pairs.get_column(column).drop_nulls().value_counts(name="_n")
        repeated = counts.filter(pl.col("_n") > 1).get_column(column)
        if len(repeated):
            shared = shared | pl.col(column).is_in(repeated.implode())
    mask = pairs.select(shared.fill_null(value=False).alias("_shared")).to_series()
    if not mask.any():
        return pairs.get_column("_label"), mask
    involved = pairs.with_row_index("_row").filter(mask)
    found = _propagated(involved.select("_m", "_i", "_label"))
    labels = pairs.get_column("_label").clone()
    return labels.scatter(involved.get_column("_row"), found), mask


def _propagated(pairs: pl.DataFrame) -> pl.Series:
    """Label propagation over ``pairs`` until no label changes (see :func:`_components`)."""
    while True:
        by_mobile = (
            pairs.filter(pl.col("_m").is_not_null())
            .group_by("_m")
            .agg(pl.col("_label").min().alias("_lm"))
        )
        by_id = (
            pairs.filter(pl.col("_i").is_not_null())
            .group_by("_i")
            .agg(pl.col("_label").min().alias("_li"))
        )
        updated = (
            pairs.join(by_mobile, on="_m", how="left", maintain_order="left")
            .join(by_id, on="_i", how="left", maintain_order="left")
            .with_columns(pl.min_horizontal("_label", "_lm", "_li").alias("_next"))
        )
        changed = updated.filter(pl.col("_next") != pl.col("_label")).height
        pairs = updated.select("_m", "_i", pl.col("_next").alias("_label"))
        if not changed:
            return pairs.get_column("_label")


# Each slice's index messages in, each slice's digests (16 bytes each, joined) out, in order.
Digests = Callable[[Iterable[pa.Array]], Iterable[bytes]]


def build_persons(
    kept: pl.DataFrame, indexer: BlindIndexer, digests: Digests | None = None
) -> tuple[pa.Table, PersonCounts]:
    """The persons table (PERSONS_SCHEMA) of the kept, compacted rows, and Art. 11's counts.

    ``kept`` must be in file order (``order`` ascending): "first" means first in the file.
    Rows are first folded into their distinct (mobile, ID) pairs, the pairs linked into
    persons, and the pairs folded into persons; the rows themselves are never joined, so
    ten million of them are held once. A person's values are the first found in file order;
    the name kept for the name+phone index is the first name on a row that has a mobile.
    ``digests`` hashes the persons' index messages slice by slice (in worker processes,
    say); by default ``indexer`` hashes them here.
    """
    virtual = (
        kept.filter(pl.col("_m").is_null() & pl.col("_i").is_null() & pl.col("_v").is_not_null())
        .group_by("_v", maintain_order=True)
        .agg(
            pl.col(NAME).first(ignore_nulls=True),
            pl.col("_ad").first(ignore_nulls=True),
            pl.col(WAYBILL).first(ignore_nulls=True),
            pl.len().cast(pl.Int32).alias("rows"),
            pl.col(LINE).first().alias("first_row"),
        )
        .with_columns(
            pl.lit(None, dtype=pl.Int64).alias("_m"),
            pl.lit(None, dtype=pl.Int64).alias("_i"),
            _NULL.alias("_name_with_mobile"),
        )
    )
    kept_rows = kept.height
    identified = pl.col("_m").is_not_null() | pl.col("_i").is_not_null()
    rows = kept if kept.select(identified.all()).item() else kept.filter(identified)
    del kept  # the caller holds no other reference: the rows go once they are folded
    by_pair = (
        rows.with_columns(
            pl.when(pl.col("_m").is_not_null()).then(pl.col(NAME)).alias("_name_with_mobile")
        )
        .group_by("_m", "_i", maintain_order=True)  # pairs in order of their first row
        .agg(
            pl.col("_name_with_mobile").first(ignore_nulls=True),
            pl.col(NAME).first(ignore_nulls=True),
            pl.col("_ad").first(ignore_nulls=True),
            pl.col("_v").first(ignore_nulls=True),
            pl.col(WAYBILL).first(ignore_nulls=True),
            pl.len().cast(pl.Int32).alias("rows"),
            pl.col(LINE).first().alias("first_row"),
            pl.col(ORDER).first().alias("_first"),
        )
    )
    del rows
    labels, shared = _linked(by_pair.select("_m", "_i", pl.col("_first").alias("_label")))
    paired = by_pair.with_columns(labels)
    # A pair that shares no number is a person by itself: only the others are grouped, and
    # sorting by label restores the order of first rows (a component's label is its first).
    alone = paired.filter(~shared).select(
        "_label",
        *_PERSON_FIELDS,
        pl.col("_m").is_not_null().cast(pl.UInt32).alias("_mobiles"),
        pl.col("_i").is_not_null().cast(pl.UInt32).alias("_ids"),
    )
    grouped = (
        paired.filter(shared)
        .group_by("_label", maintain_order=True)
        .agg(
            pl.col("_m").first(ignore_nulls=True),
            pl.col("_i").first(ignore_nulls=True),
            pl.col("_name_with_mobile").first(ignore_nulls=True),
            pl.col(NAME).first(ignore_nulls=True),
            pl.col("_ad").first(ignore_nulls=True),
            pl.col("_v").first(ignore_nulls=True),
            pl.col(WAYBILL).first(ignore_nulls=True),
            pl.col("rows").sum().cast(pl.Int32),
            pl.col("first_row").first(),
            pl.col("_m").drop_nulls().n_unique().cast(pl.UInt32).alias("_mobiles"),
            pl.col("_i").drop_nulls().n_unique().cast(pl.UInt32).alias("_ids"),
        )
    )
    persons = pl.concat([alone, grouped]).sort("_label") if grouped.height else alone
    del paired, alone, grouped
    del by_pair, labels, shared
    table_rows = (
        pl.concat([persons.select(_PERSON_FIELDS), virtual.select(_PERSON_FIELDS)])
        .with_row_index("person_id")
        .select(  # the integer forms are not kept alongside their text (ten million of each)
            "person_id",
            pl.col("_m").cast(pl.String).alias(MOBILE),
            _id_text(pl.col("_i")).alias(ID_NUMBER),
            pl.col("_ad").cast(pl.String).str.zfill(6).alias(ADCODE),
            pl.col("_v").cast(pl.String).alias(VNUM),
            "_name_with_mobile",
            NAME,
            WAYBILL,
            "rows",
            "first_row",
        )
    )
    counts = PersonCounts(
        rows_kept=kept_rows,
        person_records=persons.height,
        virtual_number_records=virtual.height,
        duplicates_excluded=kept_rows - persons.height - virtual.height,
        persons_with_mobile=persons.filter(pl.col("_m").is_not_null()).height,
        persons_with_id=persons.filter(pl.col("_i").is_not_null()).height,
        persons_with_mobile_and_id=persons.filter(
            pl.col("_m").is_not_null() & pl.col("_i").is_not_null()
        ).height,
        persons_with_several_numbers=persons.filter(
            (pl.col("_mobiles") > 1) | (pl.col("_ids") > 1)
        ).height,
    )
    del persons, virtual
    return _indexed(table_rows, indexer, digests), counts


_PERSON_FIELDS = (
    "_m",
    "_i",
    "_name_with_mobile",
    NAME,
    "_ad",
    "_v",
    WAYBILL,
    "rows",
    "first_row",
)


# Persons are indexed this many at a time, so the Python strings and digests of one slice
# are all that exists at once (ten million persons would otherwise hold gigabytes of them).
INDEX_SLICE = 100_000


def _indexed(rows: pl.DataFrame, indexer: BlindIndexer, digests: Digests | None = None) -> pa.Table:
    """Blind indexes and masks of the distinct persons: the only per-value Python step.

    HMAC runs once per distinct person (never per row), a slice at a time; about 1 µs
    each, still the largest single cost of a big file (docs/leak-ingest.md). ``digests``
    turns each slice's messages into their joined digests, in order (worker processes
    do it for a large file); by default ``indexer`` does it here.
    """
    rows = rows.with_columns(masked_names(pl.col(NAME)))
    slices = [
        rows.slice(start, INDEX_SLICE) for start in range(0, max(rows.height, 1), INDEX_SLICE)
    ]
    messages = (index_messages(part) for part in slices)
    if digests is None:
        joined: Iterable[bytes] = (hash_messages(indexer, batch) for batch in messages)
    else:
        joined = digests(messages)
    return pa.concat_tables(
        [_indexed_slice(part, one) for part, one in zip(slices, joined, strict=True)]
    )


def _messages(domain: bytes, *values: pl.Expr) -> pl.Expr:
    """The bytes ``BlindIndexer`` hashes for ``values``, as a column (null if any is null)."""
    parts: list[pl.Expr] = [pl.lit(domain.decode())]
    for k, value in enumerate(values):
        if k:
            parts.append(pl.lit(SEPARATOR.decode()))
        parts.append(value)
    return pl.concat_str(parts).cast(pl.Binary)


def _index_columns(rows: pl.DataFrame) -> list[tuple[str, pl.Series]]:
    """Each index column of the persons table and which persons have one, in message order."""
    mobile = rows.get_column(MOBILE).is_not_null()
    return [
        ("phone_bidx", mobile),
        ("name_phone_bidx", mobile & rows.get_column("_name_with_mobile").is_not_null()),
        ("id_digest", rows.get_column(ID_NUMBER).is_not_null()),
    ]


def index_messages(rows: pl.DataFrame) -> pa.Array:
    """What a slice's indexes hash: its phones, then its name+phone pairs, then its IDs.

    Built as Polars columns and handed over as one Arrow array, which crosses to a worker
    as its two buffers; the ``bytes`` objects the HMAC needs are made where it runs.
    """
    built = rows.select(
        _messages(PHONE_DOMAIN, pl.col(MOBILE)).alias("phone"),
        _messages(NAME_PHONE_DOMAIN, pl.col("_name_with_mobile"), pl.col(MOBILE)).alias("pair"),
        _messages(ID_NUMBER_DOMAIN, pl.col(ID_NUMBER)).alias("id"),
    )
    column = pl.concat([built.get_column(c).drop_nulls() for c in built.columns])
    return column.to_arrow()


def _indexed_slice(rows: pl.DataFrame, joined: bytes) -> pa.Table:
    """One slice of persons as the persons table, given its messages' joined digests."""
    out = rows.select(
        pl.col("person_id").cast(pl.Int64),
        (pl.col(MOBILE).str.slice(0, 3) + MASK * 6 + pl.col(MOBILE).str.slice(-2)).alias(
            "phone_masked"
        ),
        pl.col(NAME).alias("name_masked"),
        pl.col(ADCODE).alias("adcode"),
        pl.col(VNUM).alias("virtual_number"),
        pl.col(WAYBILL).alias("waybill_no"),
        pl.col("rows").cast(pl.Int32),
        pl.col("first_row").cast(pl.Int64),
    )
    table = out.to_arrow()
    start = 0
    for name, present in _index_columns(rows):
        count = int(present.sum())
        piece = joined[start * INDEX_BYTES : (start + count) * INDEX_BYTES]
        table = table.append_column(name, _scatter(present, piece, count))
        start += count
    if start * INDEX_BYTES != len(joined):
        raise ValueError(f"index: {len(joined)} digest bytes for {start} messages")
    return table.select(PERSONS_SCHEMA.names).cast(PERSONS_SCHEMA)


def _scatter(mask: pl.Series, joined: bytes, count: int) -> pa.Array:
    """``count`` digests (joined in one buffer) placed where ``mask`` is true, null elsewhere.

    The digests are spread into a buffer of one 16-byte slot per row by numpy, and the
    mask's own bit-packed values serve as the validity bitmap: no per-row step at all.
    """
    if not count:
        return pa.nulls(len(mask), type=_INDEX_TYPE)
    if count == len(mask):
        return pa.FixedSizeBinaryArray.from_buffers(
            _INDEX_TYPE, count, [None, pa.py_buffer(joined)]
        )
    present = mask.to_numpy()
    slots = np.zeros((len(mask), INDEX_BYTES), dtype=np.uint8)
    slots[present] = np.frombuffer(joined, dtype=np.uint8).reshape(count, INDEX_BYTES)
    validity = pa.array(present, type=pa.bool_()).buffers()[1]
    return pa.FixedSizeBinaryArray.from_buffers(
        _INDEX_TYPE,
        len(mask),
        [validity, pa.py_buffer(slots.tobytes())],
        null_count=len(mask) - count,
    )


_INDEX_TYPE = pa.binary(INDEX_BYTES)
