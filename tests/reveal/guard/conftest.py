"""The guard's window counters on every backend: SQLite, PostgreSQL and a real Redis server.

Each test gets a fresh SQLite file, a fresh PostgreSQL schema or its own random Redis key
prefix (deleted afterwards). Outside CI a missing Redis skips with instructions; with CI=true
it fails, like PostgreSQL in ``tests/conftest.py``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from parcelguard.reveal.guard.counters import DEFAULT_WINDOWS
from parcelguard.reveal.guard.counters_redis import RedisCounters
from parcelguard.reveal.guard.counters_store import StoreCounters
from parcelguard.storage import connect_store, upgrade
from tests.conftest import IN_CI, PG_URL, _postgres_engine

REDIS_URL = os.environ.get("PARCELGUARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REDIS_HOW_TO = (
    "Redis is not reachable at 127.0.0.1:6379; start it with `redis-server --daemonize yes` "
    "or point PARCELGUARD_TEST_REDIS_URL at a server"
)
BACKENDS = ["sqlite", "postgresql", "redis"]


def redis_client() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=5)
    try:
        client.ping()
    except redis.exceptions.RedisError:
        client.close()
        if IN_CI:
            pytest.fail(f"CI=true but {REDIS_HOW_TO}")
        pytest.skip(REDIS_HOW_TO)
    return client


@dataclass
class Backend:
    """One backend's storage, and a way to open more counters on it (as another process would)."""

    name: str
    url: str
    engine: sa.Engine | None = None
    client: redis.Redis | None = None
    prefix: str = ""

    def counters(self, windows: tuple[int, ...] = DEFAULT_WINDOWS) -> StoreCounters | RedisCounters:
        if self.client is not None:
            return RedisCounters(self.client, windows, prefix=self.prefix)
        assert self.engine is not None
        return StoreCounters(self.engine, windows)

    def buckets_held(self, actor: str) -> int:
        """How many (kind, bucket) counts the backend keeps for ``actor``."""
        if self.client is not None:
            return int(self.client.hlen(f"{self.prefix}counts:{actor}"))
        assert self.engine is not None
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.text("SELECT count(*) FROM guard_counts WHERE actor = :a"), {"a": actor}
                ).scalar_one()
            )


@pytest.fixture(params=BACKENDS)
def counter_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "redis":
        yield from _redis_backend()
    elif request.param == "sqlite":
        yield from _store_backend("sqlite", f"sqlite:///{tmp_path / 'home' / 'parcelguard.db'}")
    else:
        yield from _postgres_backend()


@pytest.fixture
def redis_backend() -> Iterator[Backend]:
    yield from _redis_backend()


def _redis_backend() -> Iterator[Backend]:
    client = redis_client()
    prefix = f"parcelguard:test:{secrets.token_hex(6)}:"
    try:
        yield Backend("redis", REDIS_URL, client=client, prefix=prefix)
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def _postgres_backend() -> Iterator[Backend]:
    admin = _postgres_engine()
    schema = f"t_{secrets.token_hex(6)}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield from _store_backend("postgresql", f"{PG_URL}?options=-csearch_path%3D{schema}")
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _store_backend(name: str, url: str) -> Iterator[Backend]:
    engine = connect_store(url, create=True)
    try:
        upgrade(engine)
        yield Backend(name, url, engine=engine)
    finally:
        engine.dispose()
