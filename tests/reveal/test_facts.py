"""Workflow facts read on the carrier's calendar: employment dates are Beijing days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import sqlalchemy as sa

from parcelguard.reveal.facts import Facts, RevealRequest, gather
from parcelguard.storage.schema import employees

from .conftest import World

BEIJING = timezone(timedelta(hours=8))
LAST_DAY = date(2026, 11, 20)


def _active(world: World, employee: str, moment: datetime) -> bool:
    request = RevealRequest(employee, world.waybills[0].waybill_no, "phone", "delivery")
    with world.engine.connect() as conn:  # the service's clock is UTC
        facts = gather(conn, request, moment.astimezone(UTC))
    assert isinstance(facts, Facts)
    return facts.active


def test_a_leaver_works_to_the_end_of_her_last_beijing_day_and_not_a_minute_after(
    world: World,
) -> None:
    with world.engine.begin() as conn:
        conn.execute(
            sa.insert(employees),
            [
                {"employee_id": "L1", "role": "courier", "site_id": "ST1",
                 "hired_on": date(2020, 1, 1), "left_on": LAST_DAY},
                {"employee_id": "N1", "role": "courier", "site_id": "ST1",
                 "hired_on": LAST_DAY + timedelta(days=10), "left_on": None},
            ],
        )  # fmt: skip
    evening = datetime(2026, 11, 20, 23, 30, tzinfo=BEIJING)
    after_midnight = datetime(2026, 11, 21, 0, 30, tzinfo=BEIJING)  # still Nov 20 in UTC
    assert _active(world, "L1", evening)
    assert not _active(world, "L1", after_midnight)
    # Somebody hired next week has no access yet, whatever device they hold.
    assert not _active(world, "N1", evening)
    assert _active(world, "N1", datetime(2026, 11, 30, 7, 0, tzinfo=BEIJING))
