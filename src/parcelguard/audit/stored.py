"""Reading the stored subtree hashes of the audit log (``audit_nodes``) by primary key."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from parcelguard.core.errors import ParcelGuardError
from parcelguard.storage.bulk import marker


class LogIntegrityError(ParcelGuardError):
    """The stored log contradicts itself: an entry or a hash was changed, removed or moved."""

    code = "log_integrity"


CACHED_LEVEL = 8
"""Subtrees of 256 leaves and more are kept in memory once read: at most n/256 of them."""


class UpperHashCache:
    """Hashes of large complete subtrees, which never change once they exist.

    Every proof of a log reads the same few top-level subtrees; keeping them in memory
    leaves a proof only the levels near its leaf to read (measured: bench/audit_log.py). It
    serves proofs only: :func:`parcelguard.audit.verify.verify_store` always reads the store,
    so a hash changed in the database after it was cached is still caught there.
    """

    def __init__(self, limit: int = 1_000_000) -> None:
        self._hashes: dict[tuple[int, int], bytes] = {}
        self._limit = limit

    def get(self, key: tuple[int, int]) -> bytes | None:
        return self._hashes.get(key)

    def keep(self, found: dict[tuple[int, int], bytes]) -> None:
        if len(self._hashes) >= self._limit:
            self._hashes.clear()
        self._hashes.update((key, value) for key, value in found.items() if key[0] >= CACHED_LEVEL)


class StoredHashes:
    """Subtree hashes read from ``audit_nodes``, a batch of keys per query."""

    def __init__(self, conn: sa.Connection, cache: UpperHashCache | None = None) -> None:
        self._conn = conn
        self._cache = cache

    def hashes(self, keys: Sequence[tuple[int, int]]) -> Sequence[bytes]:
        if not keys:
            return []
        found: dict[tuple[int, int], bytes] = {}
        to_read = list(keys)
        if self._cache is not None:
            for key in keys:
                value = self._cache.get(key)
                if value is not None:
                    found[key] = value
            to_read = [key for key in keys if key not in found]
        mark = marker(self._conn)
        for start in range(0, len(to_read), 200):
            part = to_read[start : start + 200]
            # One primary-key lookup per key, OR-ed, as driver-level SQL: a row-value IN made
            # SQLite scan the table, and building the expression in SQLAlchemy cost more
            # than the query (measured).
            terms = " OR ".join([f"(level = {mark} AND idx = {mark})"] * len(part))
            params = tuple(value for key in part for value in key)
            rows = self._conn.exec_driver_sql(
                f"SELECT level, idx, hash FROM audit_nodes WHERE {terms}",  # noqa: S608
                params,
            )
            found.update({(int(lv), int(ix)): bytes(h) for lv, ix, h in rows})
        if self._cache is not None:
            self._cache.keep(found)
        missing = [key for key in keys if key not in found]
        if missing:
            level, idx = missing[0]
            raise LogIntegrityError(
                f"the subtree hash at level {level}, index {idx} is missing from the store"
            )
        return [found[key] for key in keys]
