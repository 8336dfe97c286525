"""Shared fixtures: every storage test runs on SQLite and on the real PostgreSQL server.

Each test gets its own SQLite file or its own PostgreSQL schema, so runs never see each
other's rows. Outside CI a missing PostgreSQL skips with instructions; with CI=true it fails.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from parcelguard.admin import initialise, open_vault
from parcelguard.config import Settings
from parcelguard.core.clock import CARRIER_TZ, today
from parcelguard.core.waybill import NewWaybill
from parcelguard.simulate.recipients import synthetic_waybills
from parcelguard.vault import Vault

PG_URL = os.environ.get(
    "PARCELGUARD_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() == "true"
PG_HOW_TO = (
    "PostgreSQL is not reachable at 127.0.0.1:5432; start it with "
    "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` "
    "or point PARCELGUARD_TEST_PG_URL at a server"
)


def _postgres_engine() -> sa.Engine:
    engine = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError:
        engine.dispose()
        if IN_CI:
            pytest.fail(f"CI=true but {PG_HOW_TO}")
        pytest.skip(PG_HOW_TO)
    return engine


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL of an empty store of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'home' / 'parcelguard.db'}"
        return
    engine = _postgres_engine()
    schema = f"t_{secrets.token_hex(6)}"
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture
def kek() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture
def env(tmp_path: Path, store_url: str, kek: str) -> dict[str, str]:
    """The environment of an installation on ``store_url`` with its KEK in a variable."""
    return {
        "PARCELGUARD_HOME": str(tmp_path / "home"),
        "PARCELGUARD_DB": store_url,
        "PARCELGUARD_KEK": kek,
    }


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    settings = Settings.from_env(env)
    initialise(settings)
    return settings


@pytest.fixture
def vault(settings: Settings) -> Iterator[Vault]:
    vault = open_vault(settings)
    yield vault
    vault.close()


def recent_waybills(count: int, *, seed: int = 7, first_serial: int = 0) -> list[NewWaybill]:
    """Synthetic waybills of the last two days (well inside retention), a quarter of them
    created in the carrier's today and the rest before it, whatever the hour.

    Why the split: spread evenly over 48 hours, just after midnight in Beijing (16:00 UTC)
    hardly any fell in the new day, and the tests that shred every day before today found
    nothing left to read.
    """
    now = datetime.now(UTC)
    day_start = datetime.combine(today(), time(0), CARRIER_TZ).astimezone(UTC)
    start = now - timedelta(days=2)
    before = count - count // 4
    return [
        *synthetic_waybills(
            before, seed=seed, start=start, span=day_start - start, first_serial=first_serial
        ),
        *synthetic_waybills(
            count - before,
            seed=seed + 1,
            start=day_start,
            span=max(now - day_start, timedelta(seconds=1)),
            first_serial=first_serial + before,
        ),
    ]
