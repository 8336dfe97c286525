"""The pool of virtual numbers in the store: provision, bind, route, expire, recycle, attribute.

Invariant: a pool row's ``quarantined_until`` is the earliest moment the number may be bound
again. Binding sets it to ``valid_until + quarantine`` at once (not only at release), so the
free test is one predicate on one table, and a binding that ran out of validity before
:meth:`VirtualNumbers.expire` ran still keeps its number resting for the full quarantine.
A number is therefore never reused within the quarantine after its last binding ended, which
also covers "never a number bound to the same waybill for another employee": two employees who
saw one recipient can never be told apart by the number in a leaked file.

Concurrency: every write runs in :func:`~parcelguard.storage.begin_write`. On SQLite that is
``BEGIN IMMEDIATE``, so writers queue. On PostgreSQL (READ COMMITTED) the allocating query
locks its candidate with ``FOR UPDATE SKIP LOCKED``: a concurrent binder skips a number being
taken, and one that reaches it after the other committed re-checks the updated row (its
``quarantined_until`` now in the future) and passes over it. Binds for the same
(waybill, employee, device) take a transaction-level advisory lock, so two of them cannot
both allocate; the second finds and reuses the first's binding.

Times are given by the caller (``now``), never read from the clock here, so that tests and
replays pin time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from parcelguard.core.errors import BadInput, ParcelGuardError
from parcelguard.storage import begin_write, connect_current
from parcelguard.storage.bulk import (
    datetime_stamp,
    driver_rows,
    driver_run,
    insert_rows,
    insert_sql,
    marker,
    rows_by_keys,
    stored_moment,
)
from parcelguard.storage.schema import UTCDateTime, devices, vnum_bindings, vnum_pool
from parcelguard.vnum.binding import Binding, DeviceRecord, RouteDecision, decide_route
from parcelguard.vnum.errors import DeviceNotRegistered, PoolExhausted
from parcelguard.vnum.numbers import (
    DEFAULT_PREFIXES,
    InvalidVirtualNumber,
    check_prefixes,
    normalise_virtual_number,
)

DEFAULT_QUARANTINE = timedelta(days=30)
_CHUNK = 10_000
# Candidates read before locking one; wider only when concurrent binds hold all of them.
_B = vnum_bindings.c
_P = vnum_pool.c
# When a binding stopped routing: its release if that came before its validity ran out.
_ENDED_AT = sa.case(
    (sa.and_(_B.released_at.is_not(None), _B.released_at < _B.valid_until), _B.released_at),
    else_=_B.valid_until,
)


@dataclass(frozen=True, slots=True)
class PoolCounts:
    """How the pool stands at a moment: ``free`` numbers can be bound now."""

    total: int
    bound: int
    quarantined: int
    free: int

    def as_dict(self) -> dict[str, object]:
        return {
            "total": self.total,
            "bound": self.bound,
            "quarantined": self.quarantined,
            "free": self.free,
        }


@dataclass(frozen=True, slots=True)
class ProvisionResult:
    given: int
    added: int
    pool_size: int

    def as_dict(self) -> dict[str, object]:
        return {"given": self.given, "added": self.added, "pool_size": self.pool_size}


@dataclass(frozen=True, slots=True)
class ExpireResult:
    released: int
    numbers: int

    def as_dict(self) -> dict[str, object]:
        return {"released": self.released, "numbers": self.numbers}


class VirtualNumbers:
    """The carrier's virtual numbers over one engine.

    ``quarantine`` is how long a number rests after its binding ended before it is bound
    again (default 30 days: long past the few days in which waybill data sells, so a number
    in a leaked file is not ambiguous). ``prefixes`` are the MVNO ranges numbers must be in.
    ``reserved`` are blocks inside them that are never provisioned: the canary ranges
    (``forensics.canary``), whose numbers must never route to an employee or name one.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        quarantine: timedelta = DEFAULT_QUARANTINE,
        prefixes: Sequence[str] = DEFAULT_PREFIXES,
        reserved: Sequence[str] = (),
    ) -> None:
        if quarantine < timedelta(0):
            raise BadInput("quarantine: must not be negative")
        try:
            self.prefixes = check_prefixes(prefixes)
            self.reserved = check_prefixes(reserved) if reserved else ()
        except InvalidVirtualNumber as exc:
            raise BadInput(f"prefixes: {exc}") from None
        self.engine = engine
        self.quarantine = quarantine

    @classmethod
    def open(
        cls,
        url: str,
        *,
        quarantine: timedelta = DEFAULT_QUARANTINE,
        prefixes: Sequence[str] = DEFAULT_PREFIXES,
        reserved: Sequence[str] = (),
    ) -> VirtualNumbers:
        return cls(
            connect_current(url), quarantine=quarantine, prefixes=prefixes, reserved=reserved
        )

    # -- provisioning ----------------------------------------------------------------------

    def provision(self, numbers: Iterable[str]) -> ProvisionResult:
        """Add numbers to the pool; ones already there are left alone (idempotent).

        All or nothing: one malformed number, or one in a reserved (canary) block, named by
        its position, writes none of them.
        """
        given = 0
        with begin_write(self.engine) as conn:
            before = _pool_size(conn)
            insert = _insert_ignoring_duplicates(conn)
            for chunk in _chunks(numbers, _CHUNK):
                normalised = {
                    self._provisionable(text, f"numbers #{given + i}")
                    for i, text in enumerate(chunk, start=1)
                }
                given += len(chunk)
                conn.execute(insert, [{"number": n} for n in sorted(normalised)])
            after = _pool_size(conn)
        return ProvisionResult(given=given, added=after - before, pool_size=after)

    def _provisionable(self, text: str, name: str) -> str:
        number = self.normalise(text, name)
        block = next((r for r in self.reserved if number.startswith(r)), None)
        if block is not None:
            raise BadInput(
                f"{name}: in the canary block {block} (PARCELGUARD_CANARY_PREFIXES), "
                "which is never provisioned"
            )
        return number

    # -- binding ---------------------------------------------------------------------------

    def bind(
        self,
        waybill_no: str,
        employee_id: str,
        device_id: str,
        valid_until: datetime,
        now: datetime,
    ) -> Binding:
        """The number this employee's device may call this waybill's recipient on.

        A live binding of the same (waybill, employee, device) is reused, its validity
        extended to the later ``valid_until``: one employee keeps one number per recipient,
        so the number stays a clean fingerprint. Otherwise the least recently used free
        number is bound. Raises :class:`PoolExhausted` when none is free and
        :class:`DeviceNotRegistered` when the device is not the employee's (such a number
        could never route).
        """
        (result,) = self.bind_many([(waybill_no, employee_id, device_id, valid_until)], now)
        if isinstance(result, ParcelGuardError):
            raise result
        return result

    def bind_many(
        self,
        requests: Sequence[tuple[str, str, str, datetime]],
        now: datetime,
        *,
        flushed_by_a_later_commit: bool = False,
    ) -> list[Binding | ParcelGuardError]:
        """:meth:`bind` for (waybill, employee, device, valid_until) requests, one transaction.

        Why: the reveal service decides reveals in batches of hundreds. Binding them one by
        one cost nine statements each (measured: 3.6 ms a binding, bench/reveal.py); here a
        batch costs a handful of statements whatever its size: the devices, the live
        bindings and the free numbers are each read once, and the new bindings written with
        one insert. A request that cannot be bound (bad input, a device that is not the
        employee's, no free number) gets its error in its place; the others are bound. The
        same (waybill, employee, device) twice in a batch gets one number.

        ``flushed_by_a_later_commit``: see :func:`parcelguard.storage.begin_write`; the reveal
        service sets it because no number leaves before its audit append commits.
        """
        _check_aware("now", now)
        results: list[Binding | ParcelGuardError | None] = [_invalid(r, now) for r in requests]
        todo = [i for i, result in enumerate(results) if result is None]
        if not todo:
            return [r for r in results if r is not None]
        if self._all_live(requests, todo, now, results):
            return [r for r in results if r is not None]
        with begin_write(self.engine, flushed_by_a_later_commit=flushed_by_a_later_commit) as conn:
            _serialise_same_bindings(conn, sorted({requests[i][:3] for i in todo}))
            known = _devices(conn, {requests[i][2] for i in todo})
            live = _live_bindings(conn, {requests[i][0] for i in todo}, now)
            fresh: dict[tuple[str, str, str], list[int]] = {}
            extend: dict[int, Binding] = {}
            for i in todo:
                waybill_no, employee_id, device_id, valid_until = requests[i]
                triple = (waybill_no, employee_id, device_id)
                problem = _device_problem(known.get(device_id), employee_id, device_id, now)
                if problem is not None:
                    results[i] = problem
                elif triple not in live:
                    fresh.setdefault(triple, []).append(i)
                else:
                    if valid_until > live[triple].valid_until:
                        live[triple] = replace(live[triple], valid_until=valid_until)
                        extend[live[triple].binding_id] = live[triple]
                    results[i] = live[triple]
            if extend:
                conn.execute(
                    vnum_bindings.update()
                    .where(_B.binding_id == sa.bindparam("b_id"))
                    .values(valid_until=sa.bindparam("b_until", type_=UTCDateTime())),
                    [{"b_id": b.binding_id, "b_until": b.valid_until} for b in extend.values()],
                )
            made = self._bind_fresh(conn, requests, fresh, now, results)
            holds = [(b.number, b.valid_until + self.quarantine) for b in extend.values()]
            self._hold(conn, holds + [(b.number, b.valid_until + self.quarantine) for b in made])
        return [r for r in results if r is not None]

    def _all_live(
        self,
        requests: Sequence[tuple[str, str, str, datetime]],
        todo: list[int],
        now: datetime,
        results: list[Binding | ParcelGuardError | None],
    ) -> bool:
        """Settle the batch from a read alone when every request reuses a live binding as is.

        Why: after a courier's first scans of the day nearly every reveal finds its number
        already bound, and a write transaction (the write lock, a commit) only to confirm
        that cost more than the reads (measured: bench/http_reveal.py). Nothing is written
        then, so reading without the lock is safe: a binding that is live at ``now`` stays
        the device's number until it expires or is released, both of which happen by time
        or by an operator, not by another bind. Anything else (a device problem, a new
        number, a longer validity) goes through the locked path, which reads it all again.
        """
        with self.engine.connect() as conn:
            known = _devices(conn, {requests[i][2] for i in todo})
            live = _live_bindings(conn, {requests[i][0] for i in todo}, now)
        found: list[tuple[int, Binding]] = []
        for i in todo:
            waybill_no, employee_id, device_id, valid_until = requests[i]
            binding = live.get((waybill_no, employee_id, device_id))
            if (
                binding is None
                or valid_until > binding.valid_until
                or _device_problem(known.get(device_id), employee_id, device_id, now) is not None
            ):
                return False
            found.append((i, binding))
        for i, binding in found:
            results[i] = binding
        return True

    def _bind_fresh(
        self,
        conn: sa.Connection,
        requests: Sequence[tuple[str, str, str, datetime]],
        fresh: dict[tuple[str, str, str], list[int]],
        now: datetime,
        results: list[Binding | ParcelGuardError | None],
    ) -> list[Binding]:
        """New bindings for the triples without a live one: one allocation, one insert."""
        if not fresh:
            return []
        numbers = self._allocate_many(conn, now, len(fresh))
        planned = [
            (triple, positions, number, max(requests[i][3] for i in positions))
            for (triple, positions), number in zip(fresh.items(), numbers, strict=False)
        ]
        made: list[Binding] = []
        if planned:
            # Driver-level insert, then the ids read back by (number, bound_at): a locked
            # number is bound once at a given moment. SQLAlchemy's INSERT ... RETURNING over
            # many rows cost more than the rest of the binding (measured: bench/reveal.py).
            stamp = datetime_stamp(conn)
            insert_rows(
                conn,
                insert_sql(
                    conn,
                    vnum_bindings,
                    ("number", "waybill_no", "employee_id", "device_id", "bound_at", "valid_until"),
                ),
                [
                    (number, *triple, stamp(now), stamp(until))
                    for triple, _, number, until in planned
                ],
            )
            mark = marker(conn)
            found: dict[str, int] = {}
            chosen = [number for _, _, number, _ in planned]
            for start in range(0, len(chosen), 500):
                part = chosen[start : start + 500]
                found.update(
                    driver_rows(
                        conn,
                        f"SELECT number, binding_id FROM vnum_bindings WHERE bound_at = {mark} "  # noqa: S608
                        f"AND number IN ({', '.join([mark] * len(part))})",
                        (stamp(now), *part),
                    )
                )
            ids = [found[number] for number in chosen]
            for (triple, positions, number, until), binding_id in zip(planned, ids, strict=True):
                binding = Binding(int(binding_id), number, *triple, now, until)
                made.append(binding)
                for i in positions:
                    results[i] = binding
        left_over = list(fresh.values())[len(numbers) :]
        if left_over:
            error = self._exhausted(conn, now)
            for positions in left_over:
                for i in positions:
                    results[i] = error
        return made

    def _allocate_many(self, conn: sa.Connection, now: datetime, count: int) -> list[str]:
        """Lock and return up to ``count`` free numbers, least recently used first.

        Least recently used (never used first, then the earliest end of quarantine, then the
        number) spreads reuse as far apart in time as the pool allows and is deterministic.
        Candidates are read along ``ix_vnum_pool_free``; on PostgreSQL they are then locked
        with ``FOR UPDATE SKIP LOCKED`` so concurrent batches never share a number (the lock
        is taken in a second statement because under ``ORDER BY ... LIMIT`` PostgreSQL sorted
        the whole free pool: 130 ms a bind on 100,000 numbers). The chosen numbers' bindings
        are read again; a number whose pool row understated its quarantine (rows written by
        something else) is corrected and skipped rather than trusted. Fewer than ``count``
        numbers come back only when the pool has no more.
        """
        cutoff = now - self.quarantine
        free = sa.or_(_P.quarantined_until.is_(None), _P.quarantined_until <= now)
        order = (sa.nulls_first(_P.quarantined_until.asc()), _P.number.asc())
        chosen: list[str] = []
        skipped: list[str] = []
        extra = 16
        while len(chosen) < count:
            need = count - len(chosen)
            candidates = self._candidates(conn, now, [*skipped, *chosen], need + extra)
            if not candidates:
                return chosen  # the pool has nothing further
            if conn.dialect.name == "sqlite":
                # BEGIN IMMEDIATE already holds the only write lock, and the candidates were
                # read under it in allocation order: they are this transaction's to take.
                locked = candidates[:need]
            else:
                locked = list(
                    conn.execute(
                        sa.select(_P.number)
                        .where(_P.number.in_(candidates), free)
                        .order_by(*order)
                        .limit(need)
                        .with_for_update(skip_locked=True)
                    )
                    .scalars()
                    .all()
                )
            if len(locked) < need:  # the rest of the candidates are held by concurrent binds
                skipped.extend(n for n in candidates if n not in set(locked))
            ends = {
                number: stored_moment(ended)
                for number, ended in rows_by_keys(
                    conn,
                    "SELECT number, MAX(CASE WHEN released_at IS NOT NULL AND released_at < "
                    "valid_until THEN released_at ELSE valid_until END) FROM vnum_bindings "
                    "WHERE number IN ({keys}) GROUP BY number",
                    locked,
                )
            }
            stale: list[tuple[str, datetime]] = []
            for number in locked:
                last_end = ends.get(number)
                if last_end is not None and last_end > cutoff:
                    stale.append((number, last_end + self.quarantine))
                    skipped.append(number)
                else:
                    chosen.append(number)
            self._hold(conn, stale)
            extra *= 4
        return chosen

    @staticmethod
    def _candidates(
        conn: sa.Connection, now: datetime, skipped: Sequence[str], window: int
    ) -> list[str]:
        """The first ``window`` free numbers in allocation order, read along the index.

        Two index range scans (never used, then rested longest) instead of one OR-ed query
        that made both backends scan and sort the whole pool (measured: 24 ms a bind on a
        pool of 200,000 before, bench/reveal.py).
        """
        found: list[str] = []
        mark = marker(conn)
        stamp = datetime_stamp(conn)(now)
        avoid = f" AND number NOT IN ({', '.join([mark] * len(skipped))})" if skipped else ""
        for condition, order, params in (
            ("quarantined_until IS NULL", "number", ()),
            (f"quarantined_until <= {mark}", "quarantined_until, number", (stamp,)),
        ):
            found.extend(
                row[0]
                for row in driver_rows(
                    conn,
                    f"SELECT number FROM vnum_pool WHERE {condition}{avoid} "  # noqa: S608 (markers only)
                    f"ORDER BY {order} LIMIT {mark}",
                    (*params, *skipped, window - len(found)),
                )
            )
            if len(found) >= window:
                break
        return found

    def _exhausted(self, conn: sa.Connection, now: datetime) -> PoolExhausted:
        counts = _counts(conn, now)
        return PoolExhausted(
            f"virtual-number pool: no number is free at {now.isoformat()} "
            f"({counts.total} in the pool, {counts.bound} bound, "
            f"{counts.quarantined} in quarantine); provision more numbers"
        )

    def _hold(self, conn: sa.Connection, holds: Sequence[tuple[str, datetime]]) -> None:
        """Raise each number's ``quarantined_until`` to at least the given moment."""
        if not holds:
            return
        stamp, mark = datetime_stamp(conn), marker(conn)
        driver_run(
            conn,
            f"UPDATE vnum_pool SET quarantined_until = {mark} WHERE number = {mark} "  # noqa: S608 (markers only)
            f"AND (quarantined_until IS NULL OR quarantined_until < {mark})",
            [(stamp(moment), number, stamp(moment)) for number, moment in holds],
        )

    # -- ending bindings -------------------------------------------------------------------

    def expire(self, now: datetime) -> ExpireResult:
        """Release every binding whose validity ran out by ``now``; their numbers rest.

        ``released_at`` records when the number stopped routing (its ``valid_until``), not
        when this job ran, so forensics and the quarantine do not depend on the job's timing.
        """
        _check_aware("now", now)
        due = sa.and_(_B.released_at.is_(None), _B.valid_until <= now)
        with begin_write(self.engine) as conn:
            rows = conn.execute(sa.select(_B.number, _B.valid_until).where(due)).all()
            if not rows:
                return ExpireResult(released=0, numbers=0)
            conn.execute(vnum_bindings.update().where(due).values(released_at=_B.valid_until))
            latest: dict[str, datetime] = {}
            for row in rows:
                if row.number not in latest or row.valid_until > latest[row.number]:
                    latest[row.number] = row.valid_until
            self._hold(
                conn, [(number, latest[number] + self.quarantine) for number in sorted(latest)]
            )
        return ExpireResult(released=len(rows), numbers=len(latest))

    def release(self, binding_id: int, now: datetime) -> Binding:
        """End a binding early (parcel delivered, employee reassigned); the number rests.

        The quarantine then counts from the release, not from the original ``valid_until``.
        Releasing an already released binding returns it unchanged.
        """
        _check_aware("now", now)
        with begin_write(self.engine) as conn:
            row = conn.execute(
                sa.select(vnum_bindings).where(_B.binding_id == binding_id).with_for_update()
            ).first()
            if row is None:
                raise BadInput(f"binding_id {binding_id}: no such binding")
            binding = _binding(row)
            if binding.released_at is not None:
                return binding
            if now < binding.bound_at:
                raise BadInput(
                    f"now {now.isoformat()}: before binding {binding_id} was made "
                    f"({binding.bound_at.isoformat()})"
                )
            released = replace(binding, released_at=min(now, binding.valid_until))
            conn.execute(
                vnum_bindings.update()
                .where(_B.binding_id == binding_id)
                .values(released_at=released.released_at)
            )
            last_end = conn.execute(
                sa.select(sa.func.max(_ENDED_AT)).where(_B.number == binding.number)
            ).scalar_one()
            # Set, not raise: the rest counts from the real end, shorter than bind reserved.
            conn.execute(
                vnum_pool.update()
                .where(_P.number == binding.number)
                .values(quarantined_until=last_end + self.quarantine)
            )
        return released

    # -- routing and forensics -------------------------------------------------------------

    def route(self, number: str, caller_device_id: str, now: datetime) -> RouteDecision:
        """Whether a call to ``number`` from ``caller_device_id`` at ``now`` goes through.

        A read: it changes nothing (the caller records the decision). The decision never
        holds the recipient's phone; see :mod:`parcelguard.vnum.telephony`.
        """
        number = self.normalise(number)
        _check_id("caller_device_id", caller_device_id, devices.c.device_id)
        _check_aware("now", now)
        with self.engine.connect() as conn:
            in_pool = _in_pool(conn, number)
            binding = _latest_bound_by(conn, number, now) if in_pool else None
            device = None
            if (
                binding is not None
                and binding.active_at(now)
                and binding.device_id == caller_device_id
            ):
                device = _device(conn, binding.device_id)
        return decide_route(
            number, caller_device_id, now, in_pool=in_pool, binding=binding, device=device
        )

    def who_had(self, number: str, at: datetime) -> Binding | None:
        """The binding of ``number`` active at ``at``: whom a leaked number points to."""
        number = self.normalise(number)
        _check_aware("at", at)
        with self.engine.connect() as conn:
            binding = _latest_bound_by(conn, number, at)
        return binding if binding is not None and binding.active_at(at) else None

    def history(self, number: str) -> list[Binding]:
        """Every binding the number ever had, oldest first (released ones included)."""
        number = self.normalise(number)
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(vnum_bindings)
                .where(_B.number == number)
                .order_by(_B.bound_at, _B.binding_id)
            )
            return [_binding(row) for row in rows]

    def knows(self, number: str) -> bool:
        """Whether ``number`` is in the pool (a leaked 170 number may be a real subscriber's)."""
        number = self.normalise(number)
        with self.engine.connect() as conn:
            return _in_pool(conn, number)

    def counts(self, now: datetime) -> PoolCounts:
        _check_aware("now", now)
        with self.engine.connect() as conn:
            return _counts(conn, now)

    # -- plumbing --------------------------------------------------------------------------

    def normalise(self, text: str, name: str = "number") -> str:
        """The 11-digit form of a number in this pool's ranges; :class:`BadInput` otherwise."""
        if not isinstance(text, str):
            raise BadInput(f"{name}: not text")
        try:
            return normalise_virtual_number(text, self.prefixes)
        except InvalidVirtualNumber as exc:
            raise BadInput(f"{name}: {exc}") from None

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> VirtualNumbers:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


# -- helpers ---------------------------------------------------------------------------------


def _binding(row: Any) -> Binding:
    return Binding(
        binding_id=int(row.binding_id),
        number=row.number,
        waybill_no=row.waybill_no,
        employee_id=row.employee_id,
        device_id=row.device_id,
        bound_at=row.bound_at,
        valid_until=row.valid_until,
        released_at=row.released_at,
    )


def _check_id(name: str, value: object, column: sa.Column[Any]) -> None:
    """Ids name people's accounts and devices, not recipients; still, errors do not echo them."""
    limit = getattr(column.type, "length", None) or 64
    if not isinstance(value, str) or not value.strip():
        raise BadInput(f"{name}: missing")
    if len(value) > limit:
        raise BadInput(f"{name}: longer than {limit} characters")
    if not value.isprintable():
        raise BadInput(f"{name}: contains control characters")


def _check_aware(name: str, moment: object) -> None:
    if not isinstance(moment, datetime):
        raise BadInput(f"{name}: not a datetime")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise BadInput(f"{name}: give a time zone (aware datetime)")


def _serialise_same_binding(
    conn: sa.Connection, waybill_no: str, employee_id: str, device_id: str
) -> None:
    """On PostgreSQL, binds of one (waybill, employee, device) wait for each other.

    Without it two concurrent first binds would both miss the other's (uncommitted) binding
    and allocate two numbers. SQLite needs nothing: ``BEGIN IMMEDIATE`` serialises writers.
    """
    if conn.dialect.name != "postgresql":
        return
    key = "\x1f".join(("vnum", waybill_no, employee_id, device_id))
    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(key, 0))))


def _invalid(request: tuple[str, str, str, datetime], now: datetime) -> BadInput | None:
    """What is wrong with one bind request before the store is asked, if anything."""
    waybill_no, employee_id, device_id, valid_until = request
    try:
        _check_id("waybill_no", waybill_no, vnum_bindings.c.waybill_no)
        _check_id("employee_id", employee_id, vnum_bindings.c.employee_id)
        _check_id("device_id", device_id, vnum_bindings.c.device_id)
        _check_aware("valid_until", valid_until)
    except BadInput as exc:
        return exc
    if valid_until <= now:
        return BadInput(f"valid_until {valid_until.isoformat()}: must be after now")
    return None


def _serialise_same_bindings(conn: sa.Connection, triples: Sequence[tuple[str, str, str]]) -> None:
    """:func:`_serialise_same_binding` for a batch, locks taken in sorted order (no deadlock)."""
    for waybill_no, employee_id, device_id in triples:
        _serialise_same_binding(conn, waybill_no, employee_id, device_id)


def _devices(conn: sa.Connection, device_ids: set[str]) -> dict[str, DeviceRecord]:
    found: dict[str, DeviceRecord] = {}
    for device_id, employee_id, registered_at, revoked_at in rows_by_keys(
        conn,
        "SELECT device_id, employee_id, registered_at, revoked_at FROM devices "
        "WHERE device_id IN ({keys})",
        device_ids,
    ):
        registered = stored_moment(registered_at)
        assert registered is not None  # NOT NULL in the schema
        found[device_id] = DeviceRecord(
            device_id, employee_id, registered, stored_moment(revoked_at)
        )
    return found


def _device_problem(
    found: DeviceRecord | None, employee_id: str, device_id: str, now: datetime
) -> DeviceNotRegistered | None:
    if found is None or found.employee_id != employee_id or found.registered_at > now:
        return DeviceNotRegistered(
            f"device_id {device_id}: not a registered device of employee {employee_id}"
        )
    if found.revoked_at is not None and found.revoked_at <= now:
        return DeviceNotRegistered(
            f"device_id {device_id}: revoked at {found.revoked_at.isoformat()}",
            code="device_revoked",
        )
    return None


def _live_bindings(
    conn: sa.Connection, waybills: set[str], now: datetime
) -> dict[tuple[str, str, str], Binding]:
    """The latest live binding of every (waybill, employee, device) of these waybills."""
    live: dict[tuple[str, str, str], Binding] = {}
    rows = rows_by_keys(
        conn,
        "SELECT binding_id, number, waybill_no, employee_id, device_id, bound_at, valid_until "
        "FROM vnum_bindings WHERE waybill_no IN ({keys}) AND released_at IS NULL "
        "AND valid_until > {m}",
        waybills,
        datetime_stamp(conn)(now),
    )
    found: list[Binding] = []
    for binding_id, number, waybill_no, employee_id, device_id, bound_at, until in rows:
        bound, valid_until = stored_moment(bound_at), stored_moment(until)
        assert bound is not None  # NOT NULL in the schema
        assert valid_until is not None
        found.append(
            Binding(int(binding_id), number, waybill_no, employee_id, device_id, bound, valid_until)
        )
    found.sort(key=lambda b: (b.bound_at, b.binding_id))  # later bindings win
    for binding in found:
        live[(binding.waybill_no, binding.employee_id, binding.device_id)] = binding
    return live


def _device(conn: sa.Connection, device_id: str) -> DeviceRecord | None:
    row = conn.execute(
        sa.select(
            devices.c.device_id,
            devices.c.employee_id,
            devices.c.registered_at,
            devices.c.revoked_at,
        ).where(devices.c.device_id == device_id)
    ).first()
    if row is None:
        return None
    return DeviceRecord(row.device_id, row.employee_id, row.registered_at, row.revoked_at)


def _in_pool(conn: sa.Connection, number: str) -> bool:
    return conn.execute(sa.select(_P.number).where(_P.number == number)).first() is not None


def _latest_bound_by(conn: sa.Connection, number: str, moment: datetime) -> Binding | None:
    """The number's last binding made at or before ``moment`` (bindings never overlap)."""
    row = conn.execute(
        sa.select(vnum_bindings)
        .where(_B.number == number, _B.bound_at <= moment)
        .order_by(_B.bound_at.desc(), _B.binding_id.desc())
        .limit(1)
    ).first()
    return None if row is None else _binding(row)


def _pool_size(conn: sa.Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(vnum_pool)).scalar_one())


def _counts(conn: sa.Connection, now: datetime) -> PoolCounts:
    total = _pool_size(conn)
    resting = int(
        conn.execute(sa.select(sa.func.count()).where(_P.quarantined_until > now)).scalar_one()
    )
    bound = int(
        conn.execute(
            sa.select(sa.func.count(sa.distinct(_B.number))).where(
                _B.released_at.is_(None), _B.valid_until > now, _B.bound_at <= now
            )
        ).scalar_one()
    )
    quarantined = max(resting - bound, 0)
    return PoolCounts(total=total, bound=bound, quarantined=quarantined, free=total - resting)


def _insert_ignoring_duplicates(conn: sa.Connection) -> sa.Insert:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(vnum_pool).on_conflict_do_nothing(index_elements=["number"])
    if conn.dialect.name == "sqlite":
        return sqlite.insert(vnum_pool).on_conflict_do_nothing(index_elements=["number"])
    raise NotImplementedError(f"provisioning on {conn.dialect.name} is not supported")


def _chunks(items: Iterable[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
