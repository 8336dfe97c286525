"""The vault: puts waybills in encrypted, answers blind-index lookups, shreds old days.

It seals, it never opens: decryption lives in ``parcelguard.vault._decrypt`` and only the
reveal service may import it. A put is one transaction: a batch with any bad record writes
nothing, and every problem is reported with where it is, never with what it contains.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import NoReturn

import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from parcelguard.core.clock import carrier_day, utc_now
from parcelguard.core.errors import BadInput, BadRecords, Problem
from parcelguard.core.names import InvalidName
from parcelguard.core.phone import InvalidPhone
from parcelguard.core.waybill import NewWaybill
from parcelguard.storage import begin_write, connect_current
from parcelguard.storage.bulk import datetime_stamp, gc_paused, insert_rows, insert_sql
from parcelguard.storage.schema import canaries, data_keys, shred_events, waybills
from parcelguard.vault import keystore
from parcelguard.vault.blind_index import BlindIndexer
from parcelguard.vault.fields import data_key_context
from parcelguard.vault.keys import KeyProvider
from parcelguard.vault.rows import ROW_COLUMNS, Row, Stamp, build_rows
from parcelguard.vault.sealing import FieldSealer

ENCRYPTIONS_PER_WAYBILL = 3
CHUNK = 5_000
MAX_REPORTED_PROBLEMS = 50
Parsed = tuple[str, NewWaybill | list[Problem]]


@dataclass(frozen=True, slots=True)
class PutResult:
    waybills: int
    days: int
    data_keys_used: int

    def as_dict(self) -> dict[str, object]:
        return {"waybills": self.waybills, "days": self.days, "data_keys_used": self.data_keys_used}


@dataclass(frozen=True, slots=True)
class ShredResult:
    before: date
    keys_destroyed: int
    waybills_shredded: int

    def as_dict(self) -> dict[str, object]:
        return {
            "before": self.before.isoformat(),
            "keys_destroyed": self.keys_destroyed,
            "waybills_shredded": self.waybills_shredded,
        }


@dataclass(slots=True)
class _Problems:
    kept: list[Problem] = field(default_factory=list)
    total: int = 0

    def add(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            self.total += 1
            if len(self.kept) < MAX_REPORTED_PROBLEMS:
                self.kept.append(problem)


class Vault:
    def __init__(
        self,
        engine: Engine,
        provider: KeyProvider,
        *,
        retention_days: int,
        nonce_budget: int,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.engine = engine
        self.provider = provider
        self.retention_days = retention_days
        self.nonce_budget = nonce_budget
        if nonce_budget < ENCRYPTIONS_PER_WAYBILL:
            raise BadInput(f"nonce budget {nonce_budget}: must allow at least one waybill (3)")
        self._clock = clock
        self._sealers: dict[str, FieldSealer] = {}
        with engine.connect() as conn:
            self._indexer = BlindIndexer(keystore.load_index_key(conn, provider))

    @classmethod
    def open(
        cls,
        url: str,
        provider: KeyProvider,
        *,
        retention_days: int,
        nonce_budget: int,
        clock: Callable[[], datetime] = utc_now,
    ) -> Vault:
        return cls(
            connect_current(url),
            provider,
            retention_days=retention_days,
            nonce_budget=nonce_budget,
            clock=clock,
        )

    # -- writing -------------------------------------------------------------------------

    def put(self, batch: Iterable[NewWaybill]) -> PutResult:
        """Store waybills from code (the API, the simulator); all or nothing."""
        return self.put_parsed((f"waybill #{i}", w) for i, w in enumerate(batch, start=1))

    def put_parsed(self, parsed: Iterable[Parsed]) -> PutResult:
        """Store already-parsed records (from a file); one transaction, all or nothing.

        Records stream through in chunks (a file of millions never sits in memory); each
        chunk reserves its nonces, is sealed, and goes to the driver in one ``executemany``.
        """
        now = self._clock()
        problems = _Problems()
        seen: dict[str, str] = {}
        written, days, keys_used = 0, set[date](), set[str]()
        try:
            with gc_paused(), begin_write(self.engine) as conn:
                horizon = keystore.shred_horizon(conn)
                oldest = carrier_day(now) - timedelta(days=self.retention_days)
                stamp = datetime_stamp(conn)
                sql = insert_sql(conn, waybills, ROW_COLUMNS)
                for chunk in _chunks(parsed, CHUNK):
                    groups: dict[date, list[NewWaybill]] = defaultdict(list)
                    for where, item in chunk:
                        if isinstance(item, list):
                            problems.add(item)
                            continue
                        day = carrier_day(item.created_at)
                        found = _record_problems(where, item, day, seen, horizon, oldest)
                        if found:
                            problems.add(found)
                        groups[day].append(item)
                    if problems.total:
                        continue  # keep validating to report every problem, but write nothing
                    grants = {
                        day: self._reserve(conn, day, len(group), now)
                        for day, group in groups.items()
                    }
                    insert_rows(conn, sql, self._seal_chunk(groups, grants, stamp))
                    days.update(grants)
                    keys_used.update(g.key_id for gs in grants.values() for g in gs)
                    written += sum(map(len, groups.values()))
                if problems.total:
                    raise BadRecords(problems.kept, total=problems.total)
                if not written:
                    raise BadInput("the batch holds no waybills")
        except IntegrityError:
            # The primary key caught a waybill that is already stored (checking up front costs
            # a query per chunk on every put); the transaction is rolled back, so look up which.
            self._raise_already_stored(seen)
        return PutResult(waybills=written, days=len(days), data_keys_used=len(keys_used))

    def _raise_already_stored(self, seen: dict[str, str]) -> NoReturn:
        with self.engine.connect() as conn:
            found = _already_stored(conn, seen)
        if found:
            found.sort(key=lambda problem: _natural(problem.where))
            raise BadRecords(found[:MAX_REPORTED_PROBLEMS], total=len(found))
        raise BadInput(
            "a waybill of this batch was being stored by a concurrent writer; nothing was written"
        )

    def _reserve(
        self, conn: sa.Connection, day: date, count: int, now: datetime
    ) -> list[keystore.Reservation]:
        return keystore.reserve(
            conn,
            self.provider,
            day,
            count * ENCRYPTIONS_PER_WAYBILL,
            self.nonce_budget,
            now,
            unit=ENCRYPTIONS_PER_WAYBILL,
        )

    def _seal_chunk(
        self,
        groups: dict[date, list[NewWaybill]],
        grants: dict[date, list[keystore.Reservation]],
        stamp: Stamp,
    ) -> list[Row]:
        rows: list[Row] = []
        for day, group in groups.items():
            start = 0
            for grant in grants[day]:
                count = grant.count // ENCRYPTIONS_PER_WAYBILL
                rows += build_rows(
                    group[start : start + count],
                    grant.key_id,
                    self._sealer(grant.key_id, grant.wrapped),
                    self._indexer.phone,
                    self._indexer.name_phone,
                    stamp,
                )
                start += count
        return rows

    def _sealer(self, key_id: str, wrapped: bytes) -> FieldSealer:
        sealer = self._sealers.get(key_id)
        if sealer is None:
            material = self.provider.unwrap(wrapped, data_key_context(key_id))
            sealer = self._sealers[key_id] = FieldSealer(AESGCM(material), key_id)
        return sealer

    # -- retention -------------------------------------------------------------------------

    def retention_cutoff(self) -> date:
        """The default ``--before``: today (Beijing) minus the retention period."""
        return carrier_day(self._clock()) - timedelta(days=self.retention_days)

    def shred(self, before: date | None = None) -> ShredResult:
        """Destroy the data keys of every day before ``before``; their fields are gone for good."""
        now = self._clock()
        before = self.retention_cutoff() if before is None else before
        if before > carrier_day(now):
            raise BadInput(
                f"--before {before.isoformat()}: is after today ({carrier_day(now).isoformat()}); "
                "today's keys are in use and the future holds no data"
            )
        with begin_write(self.engine) as conn:
            ids = keystore.destroy_before(conn, before, now)
            shredded = 0
            if ids:
                shredded = conn.execute(
                    waybills.update()
                    .where(waybills.c.key_id.in_(ids), waybills.c.shredded_at.is_(None))
                    .values(
                        name_ct=None,
                        phone_ct=None,
                        address_ct=None,
                        phone_bidx=None,
                        name_phone_bidx=None,
                        name_masked=None,
                        phone_masked=None,
                        address_masked=None,
                        shredded_at=now,
                    )
                ).rowcount
            conn.execute(
                shred_events.insert().values(
                    before_day=before,
                    keys_destroyed=len(ids),
                    waybills_shredded=shredded,
                    shredded_at=now,
                )
            )
        for key_id in ids:
            self._sealers.pop(key_id, None)
        self._purge_freed_pages()
        return ShredResult(before=before, keys_destroyed=len(ids), waybills_shredded=shredded)

    def _purge_freed_pages(self) -> None:
        """Make destroyed key material leave the files, not just the tables."""
        if self.engine.dialect.name == "sqlite":
            raw = self.engine.raw_connection()  # outside any transaction, as SQLite requires
            try:
                raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
            finally:
                raw.close()
        elif self.engine.dialect.name == "postgresql":
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM FULL data_keys")

    # -- reading without decrypting ----------------------------------------------------------

    @property
    def blind_indexer(self) -> BlindIndexer:
        """The keyed index of this vault, for forensics to meet the stored indexes on a join."""
        return self._indexer

    def find_by_phone(self, phone_text: str) -> list[str]:
        """Waybill numbers whose recipient has this phone, matched by blind index."""
        try:
            index = self._indexer.phone_of_text(phone_text)
        except InvalidPhone as exc:
            raise BadInput(f"phone: not a Chinese mobile number ({exc})") from None
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(waybills.c.waybill_no).where(waybills.c.phone_bidx == index)
            )
            return [row.waybill_no for row in rows]

    def find_by_name_phone(self, name_text: str, phone_text: str) -> list[str]:
        """Waybill numbers whose recipient has this name and phone, matched by blind index."""
        try:
            index = self._indexer.name_phone_of_text(name_text, phone_text)
            phone_index = self._indexer.phone_of_text(phone_text)
        except InvalidPhone as exc:
            raise BadInput(f"phone: not a Chinese mobile number ({exc})") from None
        except InvalidName as exc:
            raise BadInput(f"name: not a name ({exc})") from None
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(waybills.c.waybill_no).where(
                    waybills.c.phone_bidx == phone_index, waybills.c.name_phone_bidx == index
                )
            )
            return [row.waybill_no for row in rows]

    def at_rest(self, waybill_no: str) -> dict[str, object] | None:
        """What the database holds for one waybill: the view a database dump gives."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(waybills, data_keys.c.key_day)
                .join(data_keys, data_keys.c.key_id == waybills.c.key_id)
                .where(waybills.c.waybill_no == waybill_no)
            ).first()
        if row is None:
            return None
        return {
            key: (value.hex() if isinstance(value, bytes) else value)
            for key, value in row._mapping.items()
        }

    def stats(self) -> dict[str, object]:
        """Counts for the operator. Canaries (``forensics.canary``) are bait, not parcels:
        ``waybills``, ``live_waybills`` and ``shredded_waybills`` count real parcels only,
        and the canaries stored (any state) and still live are counted apart."""
        with self.engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(waybills)).scalar_one()
            shredded = conn.execute(
                sa.select(sa.func.count()).where(waybills.c.shredded_at.is_not(None))
            ).scalar_one()
            # From the small canaries table outwards, so the big counts stay plain scans.
            bait = conn.execute(
                sa.select(sa.func.count(), sa.func.count(waybills.c.shredded_at)).select_from(
                    canaries.join(waybills, waybills.c.waybill_no == canaries.c.waybill_no)
                )
            ).one()
            keys = conn.execute(
                sa.select(
                    sa.func.count(),
                    sa.func.count(data_keys.c.destroyed_at),
                    sa.func.min(data_keys.c.key_day),
                    sa.func.max(data_keys.c.key_day),
                    sa.func.max(data_keys.c.encryptions),
                )
            ).one()
        return {
            "waybills": total - bait[0],
            "live_waybills": total - shredded - (bait[0] - bait[1]),
            "shredded_waybills": shredded - bait[1],
            "canary_waybills": bait[0],
            "live_canary_waybills": bait[0] - bait[1],
            "data_keys": keys[0] - keys[1],
            "destroyed_data_keys": keys[1],
            "first_day": keys[2].isoformat() if keys[2] else None,
            "last_day": keys[3].isoformat() if keys[3] else None,
            "max_nonce_budget_used_ratio": round((keys[4] or 0) / self.nonce_budget, 6),
            "retention_days": self.retention_days,
        }

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Vault:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _chunks(items: Iterable[Parsed], size: int) -> Iterator[list[Parsed]]:
    chunk: list[Parsed] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _record_problems(
    where: str,
    w: NewWaybill,
    day: date,
    seen: dict[str, str],
    horizon: date | None,
    oldest: date,
) -> list[Problem] | None:
    """Problems only the batch or the store can reveal; None (no allocation) when clean."""
    first = seen.setdefault(w.waybill_no, where)
    if first == where and day >= oldest and (horizon is None or day >= horizon):
        return None
    problems = []
    if first != where:
        problems.append(
            Problem(where, "duplicate_waybill", f"waybill_no repeats the one at {first}")
        )
    if horizon is not None and day < horizon:
        problems.append(
            Problem(
                where,
                "shredded_day",
                f"created_at falls on {day.isoformat()}, a day already shredded",
            )
        )
    elif day < oldest:
        problems.append(
            Problem(
                where,
                "past_retention",
                f"created_at ({day.isoformat()}) is older than the retention period; "
                "it would be shredded at once",
            )
        )
    return problems


def _natural(where: str) -> tuple[str, int]:
    """Sort ``file:12`` before ``file:100`` and ``waybill #2`` before ``waybill #10``."""
    head, _, tail = where.rpartition(":") if ":" in where else where.rpartition("#")
    return (head, int(tail)) if tail.isdigit() else (where, 0)


def _already_stored(conn: sa.Connection, where_of: dict[str, str]) -> list[Problem]:
    found: list[Problem] = []
    numbers = list(where_of)
    for start in range(0, len(numbers), 500):
        part = numbers[start : start + 500]
        for row in conn.execute(
            sa.select(waybills.c.waybill_no).where(waybills.c.waybill_no.in_(part))
        ):
            found.append(
                Problem(
                    where_of[row.waybill_no],
                    "duplicate_waybill",
                    "waybill_no is already in the vault",
                )
            )
    return found
