"""Reading the stored subtree hashes of the audit log (``audit_nodes``) by primary key."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from parcelguard.core.errors import ParcelGuardError
from parcelguard.storage.bulk import marker


class LogIntegrityError(ParcelGuardError):
    """The stored log contradicts itself: an entry or a hash was changed, removed or moved."""

    code = "log_integrity"


class StoredHashes:
    """Subtree hashes read from ``audit_nodes``, a batch of keys per query."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def hashes(self, keys: Sequence[tuple[int, int]]) -> Sequence[bytes]:
        if not keys:
            return []
        found: dict[tuple[int, int], bytes] = {}
        mark = marker(self._conn)
        for start in range(0, len(keys), 200):
            part = keys[start : start + 200]
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
        missing = [key for key in keys if key not in found]
        if missing:
            level, idx = missing[0]
            raise LogIntegrityError(
                f"the subtree hash at level {level}, index {idx} is missing from the store"
            )
        return [found[key] for key in keys]
