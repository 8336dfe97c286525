"""Bulk inserts at driver speed.

SQLAlchemy's per-row parameter handling costs more than SQLite's own insert at the vault's
volume (measured: ~45 us of ~70 us per row), so the put path hands prepared tuples straight to
the driver's ``executemany`` through ``exec_driver_sql``. Two designs were measured and
dropped (bench/vault_put.py, November 2026): a writer thread overlapping inserts with the next
chunk's encryption (no gain: the driver takes the GIL back after every row, so the threads
serialise) and multi-row ``VALUES`` statements (10-20 % slower on SQLite).
"""

from __future__ import annotations

import contextlib
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
        driver_run(conn, sql, list(rows))


def driver_rows(
    conn: sa.Connection, sql: str, params: Sequence[object] = ()
) -> list[tuple[Any, ...]]:
    """Every row of one driver-level statement, read on the driver's own cursor.

    Why not ``exec_driver_sql``: SQLAlchemy wraps each statement in an execution context and
    fetches each row through its result machinery, which at the reveal service's batch
    sizes cost as much as SQLite's own work (measured: 19 us against 10 us for an indexed
    ``IN`` of three keys, and row fetching was a twelfth of a batch of 50). The statement
    runs in ``conn``'s transaction all the same; a driver error is raised as SQLAlchemy's
    own exception type (``OperationalError`` for a lost or locked store), as
    ``exec_driver_sql`` would, so callers handle it the same way.
    """
    with _driver_cursor(conn, sql) as cursor:
        cursor.execute(sql, tuple(params))
        if cursor.description is None:
            return []
        return [tuple(row) for row in cursor.fetchall()]


def driver_run(
    conn: sa.Connection, sql: str, params: Sequence[object] | list[tuple[object, ...]] = ()
) -> None:
    """One driver-level statement for its effect; a list (of tuples) runs it once per tuple."""
    with _driver_cursor(conn, sql) as cursor:
        if isinstance(params, list):
            cursor.executemany(sql, params)
        else:
            cursor.execute(sql, tuple(params))


@contextmanager
def _driver_cursor(conn: sa.Connection, sql: str) -> Iterator[Any]:
    dbapi = conn.dialect.loaded_dbapi
    raw = conn.connection.dbapi_connection
    cursor = raw.cursor() if raw is not None else conn.connection.cursor()
    try:
        yield cursor
    except dbapi.Error as exc:
        gone = conn.dialect.is_disconnect(exc, raw, cursor)
        if gone:
            conn.invalidate(exc)
        raise sa.exc.DBAPIError.instance(
            sql,
            None,
            exc,
            dbapi.Error,
            hide_parameters=True,
            connection_invalidated=gone,
            dialect=conn.dialect,
        ) from exc
    finally:
        with contextlib.suppress(Exception):  # a cursor of a lost connection may not close
            cursor.close()


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
        rows.extend(driver_rows(conn, text, (*chunk, *params)))
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
