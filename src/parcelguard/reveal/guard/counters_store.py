"""The guard's windows in the SQL store: the embedded default, nothing else to run.

Atomicity per actor across processes: on SQLite ``BEGIN IMMEDIATE`` (see
:func:`~parcelguard.storage.begin_write`) makes every writer queue for the database, so a
read-then-add never interleaves with another. On PostgreSQL (READ COMMITTED) each touched
actor's transaction-level advisory lock is taken, in sorted order (no deadlock between two
batches), before anything is read: a second caller waits for the first to commit and then
reads its increments. Whatever the number of actors, one ``observe`` is one transaction of a
handful of statements, written as driver-level SQL (SQLAlchemy's per-row work would cost more
than the database's own, see :mod:`parcelguard.storage.bulk`).

The table stays bounded: the stale buckets of every actor a call touches are deleted in that
call, and every hour (of ``now``) one call also sweeps the actors nobody touched since.
Runs of ascending serials (``guard_runs``, one row per actor) are read and written in the
same transaction, and idle ones go in the same sweep.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TypeGuard

import sqlalchemy as sa

from parcelguard.core.errors import BadInput
from parcelguard.reveal.guard.counters import (
    BUCKET_SECONDS,
    DEFAULT_WINDOWS,
    RUN_IDLE,
    SERIAL_MAX,
    Counts,
    GuardStateUnavailable,
    Observed,
    Run,
    advance,
    current,
)
from parcelguard.storage import begin_write
from parcelguard.storage.bulk import driver_rows, driver_run, marker
from parcelguard.storage.schema import guard_counts, guard_runs

_CHUNK = 500  # actors or pairs per statement: far below every driver's parameter limit
_SWEEP_EVERY = 3_600  # seconds of ``now`` between sweeps of actors no call touched
_LOCK_PREFIX = "guard\x1f"


class StoreCounters:
    """:class:`~parcelguard.reveal.guard.counters.WindowCounters` over a ParcelGuard store.

    ``engine`` is a store at the current schema (``connect_current``); it is not disposed
    here, its owner does that.
    """

    def __init__(
        self,
        engine: sa.Engine,
        windows: tuple[int, ...] = DEFAULT_WINDOWS,
        *,
        flushed_by_a_later_commit: bool = False,
    ) -> None:
        """``flushed_by_a_later_commit``: see :func:`parcelguard.storage.begin_write`. The
        reveal service sets it: every batch's audit append commits synchronously to the same
        store right after, which makes the windows durable with it (measured: the guard's
        two commits were most of its cost per reveal, bench/guard_overhead.py)."""
        self._engine = engine
        self._flush_later = flushed_by_a_later_commit
        self._windows = check_windows(windows)
        self._next_sweep: int | None = None

    def _write(self) -> AbstractContextManager[sa.Connection]:
        return begin_write(self._engine, flushed_by_a_later_commit=self._flush_later)

    @property
    def windows(self) -> tuple[int, ...]:
        return self._windows

    def observe(self, increments: Mapping[str, Mapping[str, int]], now: int) -> dict[str, Counts]:
        return self.record(increments, {}, now).counts

    def record(
        self,
        increments: Mapping[str, Mapping[str, int]],
        serials: Mapping[str, Sequence[int]],
        now: int,
    ) -> Observed:
        plan = check_increments(increments)
        asked = check_serials(serials)
        check_now(now)
        for actor in asked:
            plan.setdefault(actor, {})
        if not plan:
            return Observed({}, {})
        actors = sorted(plan)
        bucket = now // BUCKET_SECONDS * BUCKET_SECONDS
        cutoff = now - self._windows[-1]  # a bucket that started at or before it is stale
        adds = [(a, kind, bucket, n) for a in actors for kind, n in sorted(plan[a].items())]
        sweep = self._next_sweep is None or now >= self._next_sweep
        with _unavailable_as_guard_error("count"), self._write() as conn:
            mark = marker(conn)
            _lock_actors(conn, actors)
            counts, stale = _read(conn, actors, mark, now, self._windows)
            runs = _read_runs(conn, actors, mark, now)
            for start in range(0, len(stale), _CHUNK):
                chunk = stale[start : start + _CHUNK]
                sql = _sql(_DELETE_STALE, mark, actors=_markers(len(chunk)))
                driver_run(conn, sql, (*chunk, cutoff))
            if adds:
                driver_run(conn, _sql(_ADD, mark), adds)
            if asked:
                after = []
                for actor in sorted(asked):
                    run = runs.get(actor)
                    for serial in asked[actor]:
                        run = advance(run, serial, now)
                    if run is not None:
                        after.append((actor, run.last, run.length, run.at))
                if after:
                    driver_run(conn, _sql(_PUT_RUN, mark), after)
            if sweep:
                driver_run(conn, _sql(_SWEEP, mark), (cutoff,))
                driver_run(conn, _sql(_SWEEP_RUNS, mark), (now - RUN_IDLE,))
        if sweep:
            self._next_sweep = now + _SWEEP_EVERY
        return Observed(
            {actor: counts.get(actor, {}) for actor in plan},
            {actor: runs.get(actor) for actor in plan},
        )

    def first_seen(self, pairs: Sequence[tuple[str, str]], now: int) -> list[bool]:
        checked = check_pairs(pairs)
        check_now(now)
        unique = sorted(set(checked))  # sorted: concurrent inserts lock keys in one order
        new: set[tuple[str, str]] = set()
        doing = "remember first sightings"
        with _unavailable_as_guard_error(doing), self._write() as conn:
            mark = marker(conn)
            for start in range(0, len(unique), _CHUNK):
                chunk = unique[start : start + _CHUNK]
                rows = ", ".join(["(?, ?, ?)"] * len(chunk))
                params = tuple(v for actor, key in chunk for v in (actor, key, now))
                result = driver_rows(conn, _sql(_SEEN, mark, rows=rows), params)
                new.update((str(actor), str(key)) for actor, key in result)
        answer: list[bool] = []
        for pair in checked:
            answer.append(pair in new)
            new.discard(pair)  # the same pair again in this call is not new any more
        return answer

    def forget(self, actor: str) -> None:
        check_actor("actor", actor)
        with _unavailable_as_guard_error("forget"), begin_write(self._engine) as conn:
            conn.execute(guard_counts.delete().where(guard_counts.c.actor == actor))
            conn.execute(guard_runs.delete().where(guard_runs.c.actor == actor))


def _lock_actors(conn: sa.Connection, actors: list[str]) -> None:
    """On PostgreSQL, callers touching one actor queue for each other until commit.

    One statement for the whole batch: the function scan walks the array in order, so the
    locks are taken in the sorted order of ``actors``. SQLite needs nothing (BEGIN IMMEDIATE).
    """
    if conn.dialect.name != "postgresql":
        return
    keys = [_LOCK_PREFIX + actor for actor in actors]
    conn.exec_driver_sql(
        "SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) "
        "FROM unnest(CAST(%s AS text[])) AS t(k)",
        (keys,),
    ).all()


def _read(
    conn: sa.Connection, actors: list[str], mark: str, now: int, windows: tuple[int, ...]
) -> tuple[dict[str, Counts], list[str]]:
    """Per actor and kind the count in each window, and the actors holding stale buckets.

    A bucket counts in a window of N seconds when it started after ``now - N``; buckets from
    a clock slightly ahead of ours (another instance) count too, or its events would escape.
    The database sums (a busy actor has a thousand buckets a day; fetching them all into
    Python cost ten times more, measured with bench/guard_counters.py).
    """
    sums = ", ".join([_WINDOW_SUM] * len(windows))
    starts = tuple(now - window for window in windows)
    counts: dict[str, Counts] = {}
    stale: set[str] = set()
    for start in range(0, len(actors), _CHUNK):
        chunk = actors[start : start + _CHUNK]
        sql = _sql(_READ, mark, sums=sums, actors=_markers(len(chunk)))
        for actor, kind, *values in driver_rows(conn, sql, (*starts, starts[-1], *chunk)):
            if values[-1]:
                stale.add(actor)
            if values[-2]:  # anything in the longest window
                counts.setdefault(actor, {})[kind] = tuple(int(v) for v in values[:-1])
    return counts, sorted(stale)


# Driver-level statements, written with ``?`` and given the driver's marker by ``_sql``.
_ADD = (
    "INSERT INTO guard_counts (actor, kind, bucket, n) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (actor, kind, bucket) DO UPDATE SET n = guard_counts.n + excluded.n"
)
_DELETE_STALE = "DELETE FROM guard_counts WHERE actor IN ({actors}) AND bucket <= ?"
_SWEEP = "DELETE FROM guard_counts WHERE bucket <= ?"
# Per (actor, kind): the sum in each window ({sums}), then how many buckets went stale.
_READ = (
    "SELECT actor, kind, {sums}, sum(CASE WHEN bucket <= ? THEN 1 ELSE 0 END) "
    "FROM guard_counts WHERE actor IN ({actors}) GROUP BY actor, kind"
)
_WINDOW_SUM = "sum(CASE WHEN bucket > ? THEN n ELSE 0 END)"
_SEEN = (
    "INSERT INTO guard_seen (actor, seen_key, first_seen) VALUES {rows} "
    "ON CONFLICT (actor, seen_key) DO NOTHING RETURNING actor, seen_key"
)


def _read_runs(
    conn: sa.Connection, actors: list[str], mark: str, now: int
) -> dict[str, Run | None]:
    """The runs of ``actors`` that still count at ``now`` (see :func:`current`)."""
    runs: dict[str, Run | None] = {}
    for start in range(0, len(actors), _CHUNK):
        chunk = actors[start : start + _CHUNK]
        sql = _sql(_READ_RUNS, mark, actors=_markers(len(chunk)))
        for actor, last, length, at in driver_rows(conn, sql, tuple(chunk)):
            runs[str(actor)] = current(Run(int(last), int(length), int(at)), now)
    return runs


_READ_RUNS = (
    "SELECT actor, last_serial, run_length, seen_at FROM guard_runs WHERE actor IN ({actors})"
)
_PUT_RUN = (
    "INSERT INTO guard_runs (actor, last_serial, run_length, seen_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (actor) DO UPDATE SET last_serial = excluded.last_serial, "
    "run_length = excluded.run_length, seen_at = excluded.seen_at"
)
_SWEEP_RUNS = "DELETE FROM guard_runs WHERE seen_at < ?"


def _sql(template: str, mark: str, **parts: str) -> str:
    """``template`` with its ``{parts}`` filled in, in the driver's parameter style."""
    return template.format(**parts).replace("?", mark)


def _markers(count: int) -> str:
    return ", ".join(["?"] * count)


@contextmanager
def _unavailable_as_guard_error(doing: str) -> Iterator[None]:
    """A database error becomes :class:`GuardStateUnavailable`: the guard then fails closed."""
    try:
        yield
    except sa.exc.DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "no answer"
        raise GuardStateUnavailable(
            f"guard windows in the store: cannot {doing} ({reason})"
        ) from None


# -- input checks, shared with the Redis backend ------------------------------------------------
# Both backends refuse the same inputs with the same messages, before anything is sent. Actors
# and kinds are employee ids and event names (no personal data), so messages show them;
# sighting keys may be network prefixes, so they are named by position only.

ACTOR_MAX = 64  # guard_counts.actor, guard_seen.actor
KIND_MAX = 32  # guard_counts.kind
KEY_MAX = 128  # guard_seen.seen_key
INCREMENT_MAX = 2**31 - 1  # guard_counts.n is a 32-bit integer on PostgreSQL
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def check_windows(windows: object) -> tuple[int, ...]:
    if not isinstance(windows, tuple) or not windows:
        raise BadInput("windows: give a non-empty tuple of window lengths in seconds")
    for window in windows:
        if not _is_int(window) or window <= 0:
            raise BadInput(f"windows: {window!r} is not a positive number of seconds")
    if list(windows) != sorted(set(windows)):
        raise BadInput("windows: give each length once, shortest first")
    return windows


def check_now(now: object) -> int:
    if not _is_int(now) or now < 0:
        raise BadInput(f"now: {now!r} is not POSIX seconds (an int >= 0)")
    return now


def check_actor(what: str, actor: object) -> str:
    return _check_name(what, actor, ACTOR_MAX, show=True)


def check_increments(increments: object) -> dict[str, dict[str, int]]:
    """``increments`` as plain dicts, or :class:`BadInput` naming the first bad part."""
    if not isinstance(increments, Mapping):
        raise BadInput("increments: give a mapping of actor -> kind -> count")
    plan: dict[str, dict[str, int]] = {}
    for actor, kinds in increments.items():
        check_actor("increments: actor", actor)
        if not isinstance(kinds, Mapping):
            raise BadInput(f"increments[{_shown(actor)}]: give a mapping of kind -> count")
        plan[actor] = {}
        for kind, n in kinds.items():
            _check_name(f"increments[{_shown(actor)}]: kind", kind, KIND_MAX, show=True)
            if not _is_int(n) or not 0 < n <= INCREMENT_MAX:
                raise BadInput(
                    f"increments[{_shown(actor)}][{_shown(kind)}]: {n!r} is not a positive "
                    "integer count"
                )
            plan[actor][kind] = n
    return plan


def check_serials(serials: object) -> dict[str, list[int]]:
    """``serials`` as plain lists, or :class:`BadInput` naming the first bad part."""
    if not isinstance(serials, Mapping):
        raise BadInput("serials: give a mapping of actor -> waybill serials in order")
    asked: dict[str, list[int]] = {}
    for actor, numbers in serials.items():
        check_actor("serials: actor", actor)
        if not isinstance(numbers, Sequence) or isinstance(numbers, str | bytes):
            raise BadInput(f"serials[{_shown(actor)}]: give a sequence of serials")
        for serial in numbers:
            if not _is_int(serial) or not 0 <= serial < SERIAL_MAX:
                raise BadInput(
                    f"serials[{_shown(actor)}]: {serial!r} is not a serial (0 <= n < 10**14)"
                )
        if numbers:
            asked[actor] = list(numbers)
    return asked


def check_pairs(pairs: object) -> list[tuple[str, str]]:
    if not isinstance(pairs, Sequence) or isinstance(pairs, str):
        raise BadInput("pairs: give a sequence of (actor, key) pairs")
    checked: list[tuple[str, str]] = []
    for i, pair in enumerate(pairs):
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise BadInput(f"pairs[{i}]: not an (actor, key) pair")
        actor = check_actor(f"pairs[{i}]: actor", pair[0])
        key = _check_name(f"pairs[{i}]: key", pair[1], KEY_MAX, show=False)
        checked.append((actor, key))
    return checked


def _check_name(what: str, value: object, limit: int, *, show: bool) -> str:
    if not isinstance(value, str) or not value:
        raise BadInput(f"{what}: must be a non-empty string")
    shown = f" {_shown(value)}" if show else ""
    if len(value) > limit:
        raise BadInput(f"{what}{shown}: longer than {limit} characters")
    if _CONTROL.search(value):
        raise BadInput(f"{what}{shown}: contains a control character")
    return value


def _shown(value: str) -> str:
    """A name as messages show it: quoted, escaped, cut short."""
    return repr(value if len(value) <= 40 else value[:40] + "...")


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
