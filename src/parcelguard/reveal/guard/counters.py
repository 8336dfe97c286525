"""The guard's memory: per-actor event counts over sliding windows, and first sightings.

Why a protocol with two backends: one service process keeps its windows in the store (the
embedded default, nothing else to run); several instances behind a load balancer must share
them, or an insider spreading requests over instances would get each instance's quota, so
they use Redis. Both answer the same two questions in one round trip per batch.

Counts are kept in one-minute buckets: a window of N seconds is the sum of the buckets that
started after ``now - N`` (so a window is exact to the minute, which is all a quota needs),
and memory per actor is bounded by the longest window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from parcelguard.core.errors import StoreUnavailable

BUCKET_SECONDS = 60
DEFAULT_WINDOWS = (600, 3_600, 86_400)
"""Ten minutes (a burst), an hour (a session), a day (a shift and its overtime)."""

Counts = dict[str, tuple[int, ...]]
"""Per event kind, the count in each window, in the order of the backend's ``windows``."""


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

    def first_seen(self, pairs: Sequence[tuple[str, str]], now: int) -> list[bool]:
        """For each (actor, key), True when this is the first time it was seen, and remember it.

        Keys are short opaque strings (a device id, a network prefix). The same pair twice in
        one call is True at most once. Raises :class:`GuardStateUnavailable` like ``observe``.
        """
        ...

    def forget(self, actor: str) -> None:
        """Drop an actor's windows (not first sightings): used when a containment is lifted."""
        ...
