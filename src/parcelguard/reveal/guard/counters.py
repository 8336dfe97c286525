"""The guard's memory: per-actor event counts over sliding windows, and first sightings.

Why a protocol with two backends: one service process keeps its windows in the store (the
embedded default, nothing else to run); several instances behind a load balancer must share
them, or an insider spreading requests over instances would get each instance's quota, so
they use Redis. Both answer the same two questions in one round trip per batch.

Counts are kept in one-minute buckets: a window of N seconds is the sum of the buckets that
started after ``now - N`` (so a window is exact to the minute, which is all a quota needs),
and memory per actor is bounded by the longest window.

Besides counts, each actor has a :class:`Run`: the waybill serial it asked for last and how
many serials in a row went up. A route produces parcels in the order of their addresses, so
numbers asked along it go up and down at random (a run of k in a row has odds 1/k!); a
clerk working through a seller's spreadsheet asks for them in the sheet's numeric order. The
run must be advanced in the same atomic step as the counts, or two instances serving one
actor would each see half of her sheet, so the backends apply :func:`advance` themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from parcelguard.core.errors import StoreUnavailable

BUCKET_SECONDS = 60
DEFAULT_WINDOWS = (600, 3_600, 86_400)
"""Ten minutes (a burst), an hour (a session), a day (a shift and its overtime)."""

Counts = dict[str, tuple[int, ...]]
"""Per event kind, the count in each window, in the order of the backend's ``windows``."""


RUN_GAP = 10_000
"""Serials further apart than this are not one block of one sender's sheet: the run restarts."""
RUN_IDLE = 3_600
"""Seconds without a request after which an actor's run is forgotten (a sheet is one sitting)."""
SERIAL_MAX = 10**14
"""Serials at or above this are not followed: both backends hold them exactly (a Lua number
is a double, exact below 2**53)."""


@dataclass(frozen=True, slots=True)
class Run:
    """Where an actor is in a run of ascending waybill serials."""

    last: int
    """The serial asked for last."""
    length: int
    """Ascending serials in a row, that one included."""
    at: int
    """When it was asked for (POSIX seconds)."""


def advance(run: Run | None, serial: int, now: int) -> Run:
    """The run after ``serial`` is asked for at ``now``: the one rule both backends apply.

    The same number again (a retry, another field of the same parcel) neither breaks nor
    extends the run; a higher one within :data:`RUN_GAP` extends it; anything else starts a
    new run of one.
    """
    if run is None or now - run.at > RUN_IDLE:
        return Run(serial, 1, now)
    if serial == run.last:
        return Run(run.last, run.length, now)
    if run.last < serial <= run.last + RUN_GAP:
        return Run(serial, run.length + 1, now)
    return Run(serial, 1, now)


def current(run: Run | None, now: int) -> Run | None:
    """``run`` if it still counts at ``now``; both backends answer through this."""
    return run if run is not None and now - run.at <= RUN_IDLE else None


@dataclass(frozen=True, slots=True)
class Observed:
    """What :meth:`WindowCounters.record` answers, both *before* this call's events."""

    counts: dict[str, Counts]
    runs: dict[str, Run | None]


class GuardStateUnavailable(StoreUnavailable):
    """The guard's windows cannot be read or written; the guard then fails closed."""

    code = "guard_unavailable"


class WindowCounters(Protocol):
    """Where the guard keeps its windows. Implementations: the store and Redis."""

    @property
    def windows(self) -> tuple[int, ...]:
        """Window lengths in seconds, shortest first; every answer follows this order."""
        ...

    def observe(self, increments: Mapping[str, Mapping[str, int]], now: int) -> dict[str, Counts]:
        """Atomically per actor: read its counts, then add ``increments`` at ``now``.

        ``increments`` maps actor -> kind -> how many events of that kind happen now (POSIX
        seconds). The answer maps each of those actors to its counts *before* this call's
        increments, for every kind the actor has any count of (kinds with none may be
        absent). Two callers in two processes never both miss each other's increments: one
        of them sees the other's. Raises :class:`GuardStateUnavailable` when the backend
        cannot be reached or answers wrongly; never half-applies one actor's increments.
        """
        ...

    def record(
        self,
        increments: Mapping[str, Mapping[str, int]],
        serials: Mapping[str, Sequence[int]],
        now: int,
    ) -> Observed:
        """:meth:`observe`, and in the same atomic step per actor the actor's :class:`Run`.

        ``serials`` maps actor -> the waybill serials it asks for now, in order (each
        ``0 <= serial <`` :data:`SERIAL_MAX`). The answer's ``runs`` holds, for every actor of
        ``increments`` or ``serials``, its run before this call (None when it has none that
        still counts); ``counts`` likewise covers every one of those actors. Afterwards the
        stored run is the result of :func:`advance` over the serials in order.
        """
        ...

    def first_seen(self, pairs: Sequence[tuple[str, str]], now: int) -> list[bool]:
        """For each (actor, key), True when this is the first time it was seen, and remember it.

        Keys are short opaque strings (a device id, a network prefix). The same pair twice in
        one call is True at most once. Raises :class:`GuardStateUnavailable` like ``observe``.
        """
        ...

    def forget(self, actor: str) -> None:
        """Drop an actor's windows (not first sightings): used when a containment is lifted."""
        ...
