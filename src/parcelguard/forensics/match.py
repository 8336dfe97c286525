"""Match a leak case's persons to the carrier's waybills by blind index, decrypting nothing.

The persons table carries ``BlindIndexer.phone`` and ``BlindIndexer.name_phone`` of what the
file holds; the vault stores the same HMACs for every live waybill. Matching is therefore an
equality join, done in one of two ways (bench/leak_match.py measured both):

* for a case that is small against the store (a buyer's sample against years of parcels),
  the case's phone indexes go into a TEMP table a chunk at a time (50,000 by default) and
  are joined with ``waybills`` along its ``phone_bidx`` index: the work grows with the case;
* for a case about as large as the store (a seized disk of millions), the store is read
  once, sequentially, a chunk at a time, and each chunk is kept only where its phone index
  is one of the case's: a million random index probes cost several times a sequential read.

What each pair is worth:

* ``strong``: the phone index and the name+phone index agree;
* ``phone_only``: the phone agrees, the name does not or the file has none (a shared or
  re-used phone, a misspelt name, or a file that never had names);
* ``virtual_number``: the file holds one of our virtual numbers; its binding (the last one
  made before the file first appeared, ``vnum_bindings``) names the waybill and the
  employee it was issued to. Quarantine keeps a number from being rebound for 30 days, so
  the binding is not ambiguous within the days in which leaked records sell;
* ``waybill_no``: the file names one of our waybills beside the person, and that waybill was
  shredded (crypto-shredding clears its blind indexes, so its phone can no longer be
  matched; the waybill row itself, with its creation time, sender and destination, stays).
  A waybill number the file names whose stored phone index differs from the person's is a
  conflict and is only counted.

When the file names a waybill number and that waybill is among the person's phone matches,
the person's matches are narrowed to it: the record is about that parcel. Waybills created
after the file first appeared cannot be where its records came from and are set aside
(counted). Canary waybills (``parcelguard.forensics.canary``) are matched like any other
and then reported apart: a canary is bait, never a real person, and is never counted as one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import polars as pl
import pyarrow as pa
import sqlalchemy as sa

from parcelguard.core.clock import CARRIER_TZ
from parcelguard.core.errors import BadInput
from parcelguard.forensics.case import CaseDir
from parcelguard.storage.bulk import datetime_stamp, driver_rows, driver_run, rows_by_keys
from parcelguard.vault.blind_index import BlindIndexer

CHUNK: Final = 50_000
"""Phone indexes per TEMP-table load and join: bounded memory, few round trips."""

KINDS: Final = ("strong", "virtual_number", "phone_only", "waybill_no")
"""Match kinds from the most to the least telling; a person's kind is its best pair's."""

FRESHNESS_BUCKETS: Final = ((0, 1), (1, 2), (2, 3), (3, 5), (5, 7), (7, 30), (30, None))
"""Day buckets of a record's age when the file appeared: buyers pay for records under two
days old, and after three to five days a record is nearly worthless (the 2016 case)."""

_TEMP: Final = "pg_leak_phones"

PAIRS_SCHEMA: Final = pa.schema(
    [
        pa.field("person_id", pa.int64(), nullable=False),
        pa.field("waybill_no", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("created_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("sender_id", pa.string(), nullable=False),
        pa.field("category", pa.string(), nullable=False),
        pa.field("dest_adcode", pa.string(), nullable=False),
        # The employee a virtual number was issued to, and its binding; null otherwise.
        pa.field("vnum_employee", pa.string()),
        pa.field("vnum_binding", pa.int64()),
        # The canary's slice when the waybill is a canary; null for real waybills.
        pa.field("canary_kind", pa.string()),
        pa.field("canary_value", pa.string()),
    ]
)


@dataclass(frozen=True, slots=True)
class Matches:
    """Every (person, waybill) pair found, and what was set aside and why (counts only)."""

    pairs: pa.Table  # PAIRS_SCHEMA; real and canary pairs alike
    persons: int
    first_seen: datetime
    created_after_first_seen: int
    waybill_no_conflicts: int
    unbound_virtual_numbers: int

    def real(self) -> pl.DataFrame:
        frame = pl.from_arrow(self.pairs)
        assert isinstance(frame, pl.DataFrame)
        return frame.filter(pl.col("canary_kind").is_null())

    def canary(self) -> pl.DataFrame:
        frame = pl.from_arrow(self.pairs)
        assert isinstance(frame, pl.DataFrame)
        return frame.filter(pl.col("canary_kind").is_not_null())


@dataclass(frozen=True, slots=True)
class CanaryHit:
    waybill_no: str
    slice_kind: str
    slice_value: str
    persons: int

    def as_dict(self) -> dict[str, object]:
        return {
            "waybill_no": self.waybill_no,
            "slice_kind": self.slice_kind,
            "slice_value": self.slice_value,
            "persons": self.persons,
        }


@dataclass(frozen=True, slots=True)
class MatchReport:
    """The figures of a match: counts, breakdowns and freshness; no personal data."""

    persons: int
    matched_persons: int
    matched_waybills: int
    by_match_kind: dict[str, int]
    by_created_month: dict[str, int]
    by_category: dict[str, int]
    by_province: dict[str, int]
    freshness_days: dict[str, float | None]
    freshness_histogram: dict[str, int]
    canaries: tuple[CanaryHit, ...]
    canary_persons: int
    set_aside: dict[str, int]
    first_seen: datetime

    def as_dict(self) -> dict[str, object]:
        return {
            "persons": self.persons,
            "matched_persons": self.matched_persons,
            "matched_share": _ratio(self.matched_persons, self.persons),
            "matched_waybills": self.matched_waybills,
            "by_match_kind": dict(self.by_match_kind),
            "by_created_month": dict(self.by_created_month),
            "by_category": dict(self.by_category),
            "by_province": dict(self.by_province),
            "freshness_days": dict(self.freshness_days),
            "freshness_histogram": dict(self.freshness_histogram),
            "canaries": [hit.as_dict() for hit in self.canaries],
            "canary_persons": self.canary_persons,
            "set_aside": dict(self.set_aside),
            "first_seen": self.first_seen.isoformat(),
        }


def first_seen_of(case: CaseDir, data: dict[str, object] | None = None) -> datetime:
    """When the case's file first appeared (``case.json`` ``first_seen``, ISO 8601, aware)."""
    data = case.read_json(case.case_file) if data is None else data
    text = data.get("first_seen")
    if not isinstance(text, str):
        raise BadInput(
            f"case {case.name!r}: case.json has no first_seen (when the file first appeared); "
            "give it at ingest with --first-seen"
        )
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(f"case {case.name!r}: first_seen {text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise BadInput(f"case {case.name!r}: first_seen {text!r} has no UTC offset")
    return moment.astimezone(UTC)


# -- finding the pairs (database edge) ----------------------------------------------------------


def find_matches(
    conn: sa.Connection,
    persons: pa.Table,
    first_seen: datetime,
    *,
    indexer: BlindIndexer | None = None,
    chunk: int = CHUNK,
    strategy: str = "auto",
) -> Matches:
    """Every (person, waybill) pair of ``persons`` in the store, by index; nothing decrypted.

    ``indexer`` (the vault's) lets a number the file holds in its virtual-number column that
    no binding explains be tried as a phone: the recogniser cannot tell a real subscriber's
    170 number (or a canary's) from one of ours, only the store can. ``strategy``: ``join``
    probes the store's phone index for each of the case's phones (a TEMP table a chunk at a
    time), ``scan`` reads the store once and joins in memory a chunk at a time, ``auto``
    picks ``scan`` when the case is large against the store (:data:`SCAN_FACTOR`).
    """
    frame = _persons_frame(persons)
    stamp = datetime_stamp(conn)(first_seen)
    vnum, unbound = _virtual_number_pairs(conn, frame, stamp)
    phones = frame.select("person_id", "phone_bidx", "name_phone_bidx").drop_nulls("phone_bidx")
    if indexer is not None and unbound:
        extra = frame.filter(pl.col("virtual_number").is_in(sorted(unbound))).select(
            "person_id",
            pl.col("virtual_number")
            .map_elements(indexer.phone, return_dtype=pl.Binary)
            .alias("phone_bidx"),
            pl.lit(None, dtype=pl.Binary).alias("name_phone_bidx"),
        )
        phones = pl.concat([phones, extra])
    phone = _phone_pairs(conn, phones, chunk, strategy)
    phone, shredded, conflicts = _narrow_by_waybill_no(conn, frame, phone)
    pairs = pl.concat([phone, vnum, shredded], how="diagonal_relaxed")
    pairs = _with_canaries(conn, pairs)
    after = pairs.filter(pl.col("created_at") > first_seen)
    pairs = pairs.filter(pl.col("created_at") <= first_seen)
    table = pairs.select(PAIRS_SCHEMA.names).to_arrow().cast(PAIRS_SCHEMA)
    return Matches(
        pairs=table,
        persons=frame.height,
        first_seen=first_seen,
        created_after_first_seen=after.height,
        waybill_no_conflicts=conflicts,
        unbound_virtual_numbers=len(unbound),
    )


def _persons_frame(persons: pa.Table) -> pl.DataFrame:
    wanted = ["person_id", "phone_bidx", "name_phone_bidx", "virtual_number", "waybill_no"]
    missing = [name for name in wanted if name not in persons.column_names]
    if missing:
        raise BadInput(f"persons table: missing column(s) {', '.join(missing)}")
    frame = pl.from_arrow(persons.select(wanted))
    assert isinstance(frame, pl.DataFrame)
    return frame


_WAYBILL_COLUMNS: Final = "waybill_no, created_at, sender_id, category, dest_adcode"


def _phone_pairs(
    conn: sa.Connection, phones: pl.DataFrame, chunk: int, strategy: str
) -> pl.DataFrame:
    """Waybills sharing a person's phone index, by the TEMP-table join or by a store scan."""
    keys = phones.get_column("phone_bidx").unique().sort()
    if strategy == "auto":
        strategy = "scan" if keys.len() * SCAN_FACTOR >= _stored_phones(conn) else "join"
    found: list[pl.DataFrame] = []
    if strategy == "scan":
        wanted = set(keys.to_list())
        bidx = len(_META)  # the rows' phone-index column
        for rows in _scan_store(conn, chunk):
            # Only the rows of the case's phones are turned into a frame.
            kept = [row for row in rows if bytes(row[bidx]) in wanted]
            if kept:
                found.append(_waybill_frame(kept, ("phone_bidx", "stored_name_phone")))
    elif strategy == "join":
        listed = keys.to_list()
        with _temp_phones(conn) as load:
            for start in range(0, len(listed), chunk):
                rows = load(listed[start : start + chunk])
                if rows:
                    found.append(_waybill_frame(rows, ("phone_bidx", "stored_name_phone")))
    else:
        raise BadInput(f"strategy {strategy!r}: choose auto, join or scan")
    if not found:
        return _empty_pairs()
    stored = pl.concat(found)
    joined = phones.join(stored, on="phone_bidx", how="inner")
    strong = pl.col("name_phone_bidx").is_not_null() & (
        pl.col("name_phone_bidx") == pl.col("stored_name_phone")
    )
    return joined.select(
        "person_id",
        *_META,
        pl.when(strong).then(pl.lit("strong")).otherwise(pl.lit("phone_only")).alias("kind"),
        "phone_bidx",
    )


SCAN_FACTOR: Final = 8
"""Scan the store instead of probing its index when the case has at least one distinct phone
per this many stored ones. Measured (bench/leak_match.py, SQLite, 1,000,000 waybills and a
case of 1,000,000 persons): a probe costs about 30 us a person there (random index and row
reads), a sequential read of the store about 4 us a row."""


def _stored_phones(conn: sa.Connection) -> int:
    """About how many waybills carry a phone index (the planner's estimate on PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        ((estimate,),) = driver_rows(
            conn, "SELECT COALESCE(MAX(reltuples), 0) FROM pg_class WHERE relname = 'waybills'"
        )
        if estimate and float(estimate) > 0:
            return int(float(estimate))
    ((count,),) = driver_rows(conn, "SELECT count(*) FROM waybills")
    return int(count)


def _scan_store(conn: sa.Connection, chunk: int) -> Iterator[list[tuple[Any, ...]]]:
    """Every stored waybill with a phone index, ``chunk`` rows at a time, in one read.

    On PostgreSQL a named (server-side) cursor, so the rows stream instead of arriving all
    at once; SQLite's cursor steps through the table as rows are fetched.
    """
    raw: Any = conn.connection.dbapi_connection
    postgres = conn.dialect.name == "postgresql"
    cursor = raw.cursor(name="pg_leak_scan") if postgres else raw.cursor()
    try:
        cursor.execute(_SCAN)
        while rows := cursor.fetchmany(max(chunk, 10_000)):
            yield [tuple(row) for row in rows]
    finally:
        cursor.close()


_META: Final = ("waybill_no", "created_at", "sender_id", "category", "dest_adcode")


@contextmanager
def _temp_phones(
    conn: sa.Connection,
) -> Iterator[Callable[[Sequence[bytes]], list[tuple[Any, ...]]]]:
    """A TEMP table of phone indexes on ``conn``; each load replaces its rows and joins.

    Names and statements are constants (the only values are bound parameters or COPY rows).
    PostgreSQL loads by ``COPY`` (an order of magnitude faster than row inserts there);
    SQLite by ``executemany``, which is its fastest path (``storage.bulk``).
    """
    postgres = conn.dialect.name == "postgresql"
    blob = "BYTEA" if postgres else "BLOB"
    driver_run(conn, f"DROP TABLE IF EXISTS {_TEMP}")
    driver_run(conn, f"CREATE TEMP TABLE {_TEMP} (bidx {blob} NOT NULL)")

    def load(keys: Sequence[bytes]) -> list[tuple[Any, ...]]:
        driver_run(conn, _CLEAR)
        if postgres:
            raw: Any = conn.connection.dbapi_connection
            cursor = raw.cursor()
            try:
                with cursor.copy(_COPY) as copy:
                    for key in keys:
                        copy.write_row((key,))
            finally:
                cursor.close()
        else:
            driver_run(conn, _INSERT, [(key,) for key in keys])
        return driver_rows(conn, _JOIN)

    try:
        yield load
    finally:
        driver_run(conn, f"DROP TABLE IF EXISTS {_TEMP}")


_CLEAR: Final = f"DELETE FROM {_TEMP}"  # noqa: S608 (constants only)
_COPY: Final = f"COPY {_TEMP} (bidx) FROM STDIN"
_INSERT: Final = f"INSERT INTO {_TEMP} (bidx) VALUES (?)"  # noqa: S608 (SQLite only)
_SCAN: Final = (
    f"SELECT {_WAYBILL_COLUMNS}, phone_bidx, name_phone_bidx FROM waybills "  # noqa: S608
    "WHERE phone_bidx IS NOT NULL"
)
_JOIN: Final = (
    f"SELECT {', '.join('w.' + c for c in _WAYBILL_COLUMNS.split(', '))}, "  # noqa: S608
    f"w.phone_bidx, w.name_phone_bidx FROM {_TEMP} t JOIN waybills w ON w.phone_bidx = t.bidx"
)


def _waybill_frame(rows: list[tuple[Any, ...]], extra: Sequence[str] = ()) -> pl.DataFrame:
    """Waybill rows read by driver-level SQL as a frame, times as aware UTC."""
    names = [*_META, *extra]
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    data: dict[str, Any] = {}
    for name, values in zip(names, columns, strict=True):
        if name == "created_at":
            data[name] = _times(values)
        elif name == "shredded_at":
            data[name] = pl.Series(name, [v is not None for v in values], pl.Boolean)
        elif name in ("phone_bidx", "stored_name_phone", "stored_phone"):
            data[name] = pl.Series(
                name, [None if v is None else bytes(v) for v in values], pl.Binary
            )
        else:
            data[name] = pl.Series(name, list(values), pl.String)
    return pl.DataFrame(data)


def _times(values: Sequence[object]) -> pl.Series:
    """A ``UTCDateTime`` column: SQLite's text (parsed vectorised) or the driver's datetimes."""
    if values and isinstance(values[0], str):
        return (
            pl.Series("created_at", list(values), pl.String)
            .str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us")
            .dt.replace_time_zone("UTC")
        )
    moments = [v.astimezone(UTC) if isinstance(v, datetime) and v.tzinfo else v for v in values]
    return pl.Series("created_at", moments, pl.Datetime("us", "UTC"))


def _empty_pairs() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "person_id": pl.Int64,
            **dict.fromkeys(_META, pl.String),
            "kind": pl.String,
            "phone_bidx": pl.Binary,
        }
    ).with_columns(pl.col("created_at").cast(pl.Datetime("us", "UTC")))


def _virtual_number_pairs(
    conn: sa.Connection, frame: pl.DataFrame, stamp: object
) -> tuple[pl.DataFrame, set[str]]:
    """Pairs from virtual numbers: each number's last binding made before the file appeared."""
    numbers = set(frame.get_column("virtual_number").drop_nulls().unique().to_list())
    if not numbers:
        return _empty_pairs(), set()
    latest: dict[str, tuple[Any, ...]] = {}
    for row in rows_by_keys(
        conn,
        "SELECT number, binding_id, waybill_no, employee_id, bound_at FROM vnum_bindings "
        "WHERE number IN ({keys}) AND bound_at <= {m}",
        numbers,
        stamp,
    ):
        held = latest.get(row[0])
        if held is None or (str(row[4]), int(row[1])) > (str(held[4]), int(held[1])):
            latest[row[0]] = row
    unbound = numbers - set(latest)
    if not latest:
        return _empty_pairs(), unbound
    meta = _waybill_frame(
        rows_by_keys(
            conn,
            f"SELECT {_WAYBILL_COLUMNS} FROM waybills WHERE waybill_no IN ({{keys}})",  # noqa: S608
            {row[2] for row in latest.values()},
        )
    )
    bindings = pl.DataFrame(
        {
            "virtual_number": [row[0] for row in latest.values()],
            "vnum_binding": [int(row[1]) for row in latest.values()],
            "waybill_no": [row[2] for row in latest.values()],
            "vnum_employee": [row[3] for row in latest.values()],
        },
        schema={
            "virtual_number": pl.String,
            "vnum_binding": pl.Int64,
            "waybill_no": pl.String,
            "vnum_employee": pl.String,
        },
    )
    pairs = (
        frame.select("person_id", "virtual_number")
        .drop_nulls()
        .join(bindings, on="virtual_number")
        .join(meta, on="waybill_no")
        .with_columns(pl.lit("virtual_number").alias("kind"))
        .drop("virtual_number")
    )
    return pairs, unbound


def _narrow_by_waybill_no(
    conn: sa.Connection, frame: pl.DataFrame, phone: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Use the waybill numbers the file gives: narrow phone matches, match shredded waybills."""
    named = frame.select("person_id", "waybill_no", "phone_bidx").drop_nulls("waybill_no")
    if named.is_empty():
        return phone, _empty_pairs(), 0
    stored = _waybill_frame(
        rows_by_keys(
            conn,
            f"SELECT {_WAYBILL_COLUMNS}, phone_bidx, shredded_at FROM waybills "  # noqa: S608
            "WHERE waybill_no IN ({keys})",
            set(named.get_column("waybill_no").to_list()),
        ),
        ("stored_phone", "shredded_at"),
    )
    if stored.is_empty():
        return phone, _empty_pairs(), 0
    ours = named.join(stored, on="waybill_no")
    agree = ours.filter(pl.col("stored_phone") == pl.col("phone_bidx"))
    # Narrow: a person whose file line names one of its matched waybills keeps only that one.
    keep = agree.select("person_id", pl.col("waybill_no").alias("named"))
    phone = (
        phone.join(keep, on="person_id", how="left")
        .filter(pl.col("named").is_null() | (pl.col("named") == pl.col("waybill_no")))
        .drop("named")
    )
    gone = ours.filter(pl.col("stored_phone").is_null() & pl.col("shredded_at"))
    shredded = gone.select("person_id", *_META).with_columns(pl.lit("waybill_no").alias("kind"))
    conflicts = ours.height - agree.height - gone.height
    return phone, shredded, conflicts


def _with_canaries(conn: sa.Connection, pairs: pl.DataFrame) -> pl.DataFrame:
    """Mark canary waybills with their slice (the canaries table is small: read it whole)."""
    rows = driver_rows(conn, "SELECT waybill_no, slice_kind, slice_value FROM canaries")
    slices = pl.DataFrame(
        {
            "waybill_no": [r[0] for r in rows],
            "canary_kind": [r[1] for r in rows],
            "canary_value": [r[2] for r in rows],
        },
        schema={"waybill_no": pl.String, "canary_kind": pl.String, "canary_value": pl.String},
    )
    for name, dtype in (("vnum_employee", pl.String), ("vnum_binding", pl.Int64)):
        if name not in pairs.columns:
            pairs = pairs.with_columns(pl.lit(None, dtype=dtype).alias(name))
    return pairs.join(slices, on="waybill_no", how="left")


# -- the figures (pure) ----------------------------------------------------------------------


def summarise(matches: Matches, provinces: dict[str, str]) -> MatchReport:
    """The match's figures over real pairs; canaries apart. ``provinces``: code → name."""
    real = matches.real()
    canary = matches.canary()
    waybills = real.unique("waybill_no")
    per_person = real.group_by("person_id").agg(
        pl.col("kind").replace_strict(KINDS, list(range(len(KINDS)))).min().alias("rank"),
        pl.col("created_at").max().alias("latest"),
    )
    kinds = per_person.group_by("rank").len()
    by_kind = {KINDS[int(r)]: int(n) for r, n in kinds.iter_rows()}
    ages = per_person.select(
        (pl.lit(matches.first_seen) - pl.col("latest")).dt.total_microseconds() / 86_400e6
    ).to_series()
    local = waybills.select(
        pl.col("created_at")
        .dt.convert_time_zone(str(CARRIER_TZ.tzname(None)))
        .dt.strftime("%Y-%m")
        .alias("m"),
        pl.col("category"),
        pl.col("dest_adcode").str.slice(0, 2).alias("p"),
    )
    hits = canary.group_by("waybill_no", "canary_kind", "canary_value").agg(
        pl.col("person_id").n_unique().alias("persons")
    )
    return MatchReport(
        persons=matches.persons,
        matched_persons=per_person.height,
        matched_waybills=waybills.height,
        by_match_kind={kind: by_kind.get(kind, 0) for kind in KINDS},
        by_created_month=_counts(local.get_column("m")),
        by_category=_counts(local.get_column("category")),
        by_province=_counts(local.get_column("p").replace_strict(provinces, default=pl.col("p"))),
        freshness_days=_freshness(ages.to_list()),
        freshness_histogram=_histogram(ages.to_list()),
        canaries=tuple(
            CanaryHit(str(w), str(k), str(v), int(n))
            for w, k, v, n in hits.sort("waybill_no").iter_rows()
        ),
        canary_persons=canary.get_column("person_id").n_unique(),
        set_aside={
            "waybills_created_after_first_seen": matches.created_after_first_seen,
            "waybill_no_conflicts": matches.waybill_no_conflicts,
            "virtual_numbers_unbound": matches.unbound_virtual_numbers,
        },
        first_seen=matches.first_seen,
    )


def _counts(values: pl.Series) -> dict[str, int]:
    counted = values.value_counts(sort=False)
    return {str(k): int(n) for k, n in sorted(counted.iter_rows(), key=lambda kv: str(kv[0]))}


def _freshness(days: list[float]) -> dict[str, float | None]:
    if not days:
        return {"median": None, "p90": None, "max": None}
    ordered = sorted(days)
    return {
        "median": round(_quantile(ordered, 0.5), 2),
        "p90": round(_quantile(ordered, 0.9), 2),
        "max": round(ordered[-1], 2),
    }


def _quantile(ordered: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), on sorted values."""
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def bucket_label(low: int, high: int | None) -> str:
    return f"{low}+" if high is None else f"{low}-{high}"


def _histogram(days: list[float]) -> dict[str, int]:
    counts = {bucket_label(lo, hi): 0 for lo, hi in FRESHNESS_BUCKETS}
    for value in days:
        for lo, hi in FRESHNESS_BUCKETS:
            if value >= lo and (hi is None or value < hi):
                counts[bucket_label(lo, hi)] += 1
                break
    return counts


def _ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 6)
