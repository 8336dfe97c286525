"""Bulk inserts at driver speed.

SQLAlchemy's per-row parameter handling costs more than SQLite's own insert at the vault's
volume (measured: ~45 us of ~70 us per row), so the put path hands prepared tuples straight to
the driver's ``executemany`` through ``exec_driver_sql``. Two designs were measured and
dropped (bench/vault_put.py, November 2026): a writer thread overlapping inserts with the next
chunk's encryption (no gain: the driver takes the GIL back after every row, so the threads
serialise) and multi-row ``VALUES`` statements (10-20 % slower on SQLite).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa


def marker(conn: sa.Connection) -> str:
    """The driver's positional parameter marker (``?`` for SQLite, ``%s`` for psycopg)."""
    style = conn.dialect.paramstyle
    found = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(style)
    if found is None:
        raise NotImplementedError(f"driver-level SQL does not support paramstyle {style}")
    return found


def insert_sql(conn: sa.Connection, table: sa.Table, columns: Sequence[str]) -> str:
    """An INSERT in the driver's own parameter style (``?`` for SQLite, ``%s`` for psycopg)."""
    mark = marker(conn)
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(table.c[column].name) for column in columns)  # KeyError if unknown
    markers = ", ".join([mark] * len(columns))
    # Identifiers come from the table definition; every value is a bound parameter.
    return f"INSERT INTO {quote(table.name)} ({names}) VALUES ({markers})"  # noqa: S608


def insert_rows(conn: sa.Connection, sql: str, rows: Sequence[tuple[object, ...]]) -> None:
    if rows:
        conn.exec_driver_sql(sql, list(rows))


def rows_by_keys(
    conn: sa.Connection, sql: str, keys: set[str] | Sequence[str], *params: object
) -> list[tuple[Any, ...]]:
    """Rows of driver-level ``sql`` for every key: ``{keys}`` stands for the IN list.

    ``{m}`` stands for one more parameter marker; ``params`` follow the keys in order. Why
    driver-level: at the reveal service's batch sizes SQLAlchemy's statement and row handling
    cost more than the indexed lookups themselves (measured: bench/reveal.py and the live
    simulation). Keys go in chunks of 500, well under every backend's parameter limit.
    """
    mark = marker(conn)
    ordered = sorted(keys)
    rows: list[Any] = []
    for start in range(0, len(ordered), _CHUNK):
        chunk = ordered[start : start + _CHUNK]
        text = sql.format(keys=", ".join([mark] * len(chunk)), m=mark)
        rows.extend(conn.exec_driver_sql(text, (*chunk, *params)))  # rows index like tuples
    return rows


_CHUNK = 500


def stored_moment(value: object) -> datetime | None:
    """A ``UTCDateTime`` column read by driver-level SQL: SQLite text or a driver datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"not a stored time: {type(value).__name__}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def datetime_stamp(conn: sa.Connection) -> Callable[[datetime], object]:
    """How this backend stores an aware datetime (matching ``UTCDateTime`` on read)."""
    if conn.dialect.name == "sqlite":
        return _sqlite_stamp
    return lambda moment: moment


def _sqlite_stamp(moment: datetime) -> str:
    """SQLAlchemy's SQLite DATETIME text (``2026-11-24 01:15:02.000000``), in UTC."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat(" ", "microseconds")[:26]


@contextmanager
def gc_paused() -> Iterator[None]:
    """A bulk put creates millions of short-lived objects and no cycles: collections only cost."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
