"""The world's workflow lands in the store's fact tables (both backends)."""

from datetime import UTC, date, datetime, time

import sqlalchemy as sa

from parcelguard.config import Settings
from parcelguard.core.clock import CARRIER_TZ
from parcelguard.simulate.run import simulate
from parcelguard.simulate.workflow import put_workflow
from parcelguard.simulate.world import WorldConfig
from parcelguard.storage import connect_current
from parcelguard.storage.schema import devices, parcel_exceptions, parcel_status


def test_workflow_facts_follow_the_scans_and_assignments(settings: Settings) -> None:
    tables = simulate(WorldConfig(seed=3, days=2, employees=120, waybills_per_day=800), [])
    engine = connect_current(settings.db_url)
    written = put_workflow(engine, tables)
    assert written["employees"] == tables["employees"].num_rows
    assert written["assignments"] == tables["assignments"].num_rows
    scans = tables["scans"].to_pylist()
    assert written["parcel_status"] == len({s["waybill_no"] for s in scans})
    couriers = sum(1 for r in tables["employees"]["role"].to_pylist() if r == "courier")
    assert written["devices"] == tables["employees"].num_rows + couriers
    with engine.connect() as conn:
        some = conn.execute(sa.select(parcel_status).limit(50)).all()
        handhelds = conn.execute(
            sa.select(sa.func.count()).where(devices.c.kind == "handheld")
        ).scalar()
        opened = conn.execute(sa.select(sa.func.count()).select_from(parcel_exceptions)).scalar()
    assert handhelds == couriers
    exception_scans = sum(1 for s in scans if s["kind"] == "exception")
    assert opened == exception_scans
    for row in some:
        mine = sorted(
            (s for s in scans if s["waybill_no"] == row.waybill_no), key=lambda s: s["ts"]
        )
        assert row.current_site_id == mine[-1]["site_id"]
        dispatches = [s["ts"] for s in mine if s["kind"] == "dispatch"]
        if dispatches:
            assert row.dispatched_at == dispatches[0]
    engine.dispose()


def test_a_joiner_can_work_from_the_first_morning_of_her_hire_date(settings: Settings) -> None:
    """Hire dates are Beijing dates: her devices count from 00:00+08:00, not 08:00+08:00."""
    tables = simulate(WorldConfig(seed=3, days=4, employees=300, waybills_per_day=800), [])
    staff = tables["employees"].to_pylist()
    joiners = {r["employee_id"]: r["hired_on"] for r in staff if r["hired_on"] > date(2016, 10, 1)}
    assert joiners
    engine = connect_current(settings.db_url)
    put_workflow(engine, tables)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(devices.c.employee_id, devices.c.registered_at).where(
                devices.c.employee_id.in_(list(joiners))
            )
        ).all()
    engine.dispose()
    assert {r.employee_id for r in rows} == set(joiners)
    for row in rows:
        registered = row.registered_at.replace(tzinfo=row.registered_at.tzinfo or UTC)
        first_morning = datetime.combine(joiners[row.employee_id], time(), CARRIER_TZ)
        assert registered == first_morning


def test_an_exception_is_closed_by_the_parcels_next_delivery_or_return_only() -> None:
    from datetime import UTC, datetime, timedelta

    import pyarrow as pa

    from parcelguard.simulate.workflow import _status_and_exceptions

    t0 = datetime(2026, 11, 1, 8, tzinfo=UTC)
    rows = [  # deliberately out of order: the scans are sorted by waybill and time
        ("PG000000000002", 5, "S2", "deliver"),
        ("PG000000000001", 0, "H1", "arrive"),
        ("PG000000000001", 1, "S1", "exception"),
        ("PG000000000001", 2, "S1", "exception"),
        ("PG000000000001", 3, "S1", "dispatch"),
        ("PG000000000001", 4, "S1", "return"),
        ("PG000000000001", 6, "S1", "exception"),
        ("PG000000000002", 1, "S2", "exception"),
        ("PG000000000002", 3, "S2", "dispatch"),
        ("PG000000000003", 2, "S3", "exception"),
    ]
    scans = pa.table(
        {
            "waybill_no": [r[0] for r in rows],
            "ts": pa.array([t0 + timedelta(hours=r[1]) for r in rows], pa.timestamp("us", "UTC")),
            "site_id": [r[2] for r in rows],
            "kind": [r[3] for r in rows],
        }
    )
    status, exceptions = (
        list(zip(*(c if isinstance(c, list) else c.to_pylist() for c in columns), strict=True))
        for columns in _status_and_exceptions(scans)
    )
    at = {h: t0 + timedelta(hours=h) for h in range(7)}
    assert status == [
        ("PG000000000001", "S1", at[6], at[3], None),
        ("PG000000000002", "S2", at[5], at[3], at[5]),
        ("PG000000000003", "S3", at[2], None, None),
    ]
    assert exceptions == [
        ("PG000000000001", "S1", at[1], at[4]),  # both closed by the return
        ("PG000000000001", "S1", at[2], at[4]),
        ("PG000000000001", "S1", at[6], None),  # after the return: still open
        ("PG000000000002", "S2", at[1], at[5]),
        ("PG000000000003", "S3", at[2], None),  # another parcel's delivery never closes it
    ]


def test_times_are_written_exactly_as_the_store_writes_one_datetime() -> None:
    """The column-at-once text for SQLite is the per-value text, to the microsecond."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    import pyarrow as pa

    from parcelguard.simulate.workflow import _stored
    from parcelguard.storage.bulk import _sqlite_stamp

    moments = [
        datetime(2016, 10, 3, 1, 2, 3, tzinfo=UTC),
        datetime(2016, 10, 3, 1, 2, 3, 456_789, tzinfo=UTC),
        None,
        datetime(2016, 10, 3, 9, 0, 0, 1, tzinfo=ZoneInfo("Asia/Shanghai")),
        datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC) + timedelta(days=1),
    ]
    expected = [None if m is None else _sqlite_stamp(m) for m in moments]
    for zone in ("UTC", "Asia/Shanghai"):
        column = pa.array(moments, type=pa.timestamp("us", tz=zone))
        assert _stored(column, _sqlite_stamp, sqlite=True) == expected
        assert _stored(pa.chunked_array([column[:2], column[2:]]), _sqlite_stamp, True) == expected
        on_postgres = _stored(column, lambda m: m, sqlite=False)
        assert on_postgres == [None if m is None else m.astimezone(UTC) for m in moments]
    assert _stored(moments, _sqlite_stamp, sqlite=True) == expected  # Python values, one by one
