"""Engines configured the way ParcelGuard needs them.

SQLite runs in WAL mode with full fsync, foreign keys, a busy timeout for concurrent
writers, ``BEGIN IMMEDIATE`` transactions (so two writers queue instead of deadlocking on a
lock upgrade) and ``secure_delete`` (so shredded key material does not linger in free pages).
Statement parameters are hidden from SQLAlchemy's error messages: they may hold ciphertext or
masked data, and an exception is no place for either.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from parcelguard.core.errors import BadInput, StoreUnavailable

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
    "PRAGMA secure_delete=ON",
    # Blind indexes are random keys: a 64 MiB page cache keeps their B-trees' inner pages hot.
    "PRAGMA cache_size=-65536",
)
# Execution option that makes a SQLite transaction take the write lock at BEGIN.
_BEGIN_MODE = "parcelguard_begin"
# Execution option for a write made durable by a later synchronous commit (see begin_write).
_SYNC_MODE = "parcelguard_sync"


def connect_store(url: str, *, create: bool = False) -> Engine:
    """Create an engine for ``url`` and check that the database answers.

    An embedded SQLite file is only created when ``create`` is set (``parcelguard init``);
    any other command on a missing file says to run init instead of making an empty store.
    """
    try:
        parsed = sa.make_url(url)
    except ArgumentError:
        raise BadInput("PARCELGUARD_DB: not a database URL") from None
    try:
        if parsed.get_backend_name() == "sqlite":
            _check_sqlite_file(parsed, create)
            engine = _sqlite_engine(parsed)
        else:
            engine = sa.create_engine(parsed, hide_parameters=True, pool_pre_ping=True)
    except NoSuchModuleError:
        raise BadInput(f"PARCELGUARD_DB: unsupported backend {parsed.drivername!r}") from None
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "no answer"
        raise StoreUnavailable(f"database {redacted_url(url)}: cannot connect ({reason})") from None
    return engine


def _check_sqlite_file(url: sa.URL, create: bool) -> None:
    if not url.database or url.database == ":memory:":
        raise BadInput(
            "PARCELGUARD_DB: an in-memory SQLite store would lose everything; give a file"
        )
    path = Path(url.database)
    if create:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    elif not path.exists():
        raise StoreUnavailable(f"no store at {path}; run `parcelguard init`")


def _sqlite_engine(url: sa.URL) -> Engine:
    # The pool hands a connection to whichever thread checks it out next (a web server's
    # workers); it is never used by two threads at once.
    engine = sa.create_engine(url, hide_parameters=True, connect_args={"check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: object) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        options = conn.get_execution_options()
        # Checked for every transaction (SQLite refuses to change it inside one), so a pooled
        # connection never carries a relaxed setting into the next transaction; the PRAGMA
        # is only sent when the mode changes, which keeps it off the readers' path.
        sync = options.get(_SYNC_MODE, "FULL")
        held = conn.connection.info
        if held.get(_SYNC_MODE, "FULL") != sync:
            conn.exec_driver_sql(f"PRAGMA synchronous={sync}")
            held[_SYNC_MODE] = sync
        conn.exec_driver_sql(f"BEGIN {options.get(_BEGIN_MODE, 'DEFERRED')}")

    return engine


def begin_write(
    engine: Engine, *, flushed_by_a_later_commit: bool = False
) -> AbstractContextManager[sa.Connection]:
    """A transaction that will write: on SQLite it takes the write lock at once.

    ``BEGIN IMMEDIATE`` makes concurrent writers queue on the busy timeout instead of failing
    when a read lock cannot be upgraded; readers keep plain ``BEGIN`` and never wait for a
    writer (WAL).

    ``flushed_by_a_later_commit`` is for a write that nothing relies on until a later
    synchronous commit to the same store has happened (the reveal service's virtual-number
    bindings, which leave only after the audit append): its commit does not wait for the
    disk. That later commit makes it durable too, because SQLite's write-ahead log and
    PostgreSQL's WAL are flushed in order. Lost in a crash before it, the write was never
    used.
    """
    if getattr(_JOINED, "engine", None) is engine:
        return _joined()
    options = {_BEGIN_MODE: "IMMEDIATE"}
    if flushed_by_a_later_commit:
        options[_SYNC_MODE] = "NORMAL"
    return _with_pg_async_commit(engine.execution_options(**options).begin(), engine)


@contextmanager
def _with_pg_async_commit(
    transaction: AbstractContextManager[sa.Connection], engine: Engine
) -> Iterator[sa.Connection]:
    with transaction as conn:
        if engine.dialect.name == "postgresql" and conn.get_execution_options().get(_SYNC_MODE):
            conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
        yield conn


_JOINED = threading.local()
"""This thread's :func:`one_write_transaction`: its engine, connection and first failure."""


@contextmanager
def one_write_transaction(engine: Engine) -> Iterator[sa.Connection]:
    """One synchronous write transaction that every :func:`begin_write` on ``engine`` joins.

    Why: the reveal service writes a batch's guard windows, containments, virtual-number
    bindings and audit entries to one store, and as separate transactions that was four
    BEGINs and four commits a batch, most of a small batch's cost (measured: the live
    simulation and bench/http_reveal.py). Joined, they commit together with the audit
    append's synchronous commit, and they fail together: if any joined write raised, even
    one its caller handled, the whole transaction is rolled back and
    :class:`StoreUnavailable` raised, so nothing of the batch is half-written. Only for the
    thread that opened it (a group committer in another thread would wait on the lock this
    one holds), and not re-entrant.
    """
    if getattr(_JOINED, "engine", None) is not None:
        raise RuntimeError("one_write_transaction is already open in this thread")
    with begin_write(engine) as conn:
        _JOINED.engine, _JOINED.conn, _JOINED.failed = engine, conn, None
        try:
            yield conn
            if _JOINED.failed is not None:
                raise StoreUnavailable(
                    f"a write of this transaction failed ({type(_JOINED.failed).__name__}); "
                    "nothing of it was kept"
                )
        finally:
            _JOINED.engine = _JOINED.conn = _JOINED.failed = None


@contextmanager
def _joined() -> Iterator[sa.Connection]:
    """A :func:`begin_write` inside :func:`one_write_transaction`: its connection, no commit."""
    try:
        yield _JOINED.conn
    except BaseException as exc:
        if _JOINED.failed is None:
            _JOINED.failed = exc
        raise


def backend_name(engine: Engine) -> str:
    return engine.dialect.name


def redacted_url(url: str) -> str:
    """The URL with its password hidden, for messages and ``doctor``."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"
