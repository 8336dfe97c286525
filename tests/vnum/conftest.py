"""A pool of virtual numbers on each backend, and registered devices to bind them to."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from parcelguard.config import Settings
from parcelguard.storage import connect_current
from parcelguard.storage.schema import devices
from parcelguard.vnum import VirtualNumbers

T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
DAY = timedelta(days=1)
QUARANTINE = timedelta(days=30)
NUMBERS = [f"1709000{i:04d}" for i in range(1, 9)]  # 17090000001 .. 17090000008


def register(
    engine: sa.Engine,
    device_id: str,
    employee_id: str,
    *,
    at: datetime = T0 - DAY,
    revoked_at: datetime | None = None,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            devices.insert().values(
                device_id=device_id,
                employee_id=employee_id,
                kind="handheld",
                registered_at=at,
                revoked_at=revoked_at,
            )
        )


@pytest.fixture
def vnums(settings: Settings) -> Iterator[VirtualNumbers]:
    """An empty pool with a 30-day quarantine, and devices D1..D8 of employees E1..E8."""
    numbers = VirtualNumbers(connect_current(settings.db_url), quarantine=QUARANTINE)
    for i in range(1, 9):
        register(numbers.engine, f"D{i}", f"E{i}")
    yield numbers
    numbers.close()
