"""The world's workflow lands in the store's fact tables (both backends)."""

import sqlalchemy as sa

from parcelguard.config import Settings
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
