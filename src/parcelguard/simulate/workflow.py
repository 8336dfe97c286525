"""The workflow of a world (or of a carrier's exchange-format export) into the store's fact tables.

Why: the reveal policies decide on workflow facts (who holds a parcel, where it is, whose
ticket it is on), so a store that serves reveals needs them. The exchange format carries them
as tables; this derives the store's facts from them:

* ``employees`` and ``sites`` as they are;
* ``devices``: every employee's workstation ``W<employee_id>`` and, for couriers, the handheld
  ``H<employee_id>``, registered from the start (Beijing midnight) of the employee's hire date:
  the devices the simulator's honest activity uses. A scenario's foreign device is not
  registered, which is the point;
* ``assignments`` as they are;
* ``parcel_status``: the site of each parcel's latest scan, its first dispatch and delivery;
* ``parcel_exceptions``: an ``exception`` scan opens one at its site, closed by the parcel's
  next ``deliver`` or ``return`` scan;
* ``tickets`` as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, time

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from parcelguard.core.clock import CARRIER_TZ
from parcelguard.storage import begin_write
from parcelguard.storage.bulk import datetime_stamp, insert_rows, insert_sql
from parcelguard.storage.schema import (
    assignments,
    devices,
    employees,
    parcel_exceptions,
    parcel_status,
    sites,
    tickets,
)

_BATCH = 50_000


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _status_and_exceptions(
    scans: pa.Table,
) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    order = pc.sort_indices(scans, [("waybill_no", "ascending"), ("ts", "ascending")])
    ordered = scans.take(order)
    numbers = ordered["waybill_no"].to_pylist()
    stamps = [_utc(t) for t in ordered["ts"].to_pylist()]
    where = ordered["site_id"].to_pylist()
    kinds = ordered["kind"].to_pylist()
    status: list[tuple[object, ...]] = []
    exceptions: list[tuple[object, ...]] = []
    n = len(numbers)
    start = 0
    while start < n:
        end = start
        while end < n and numbers[end] == numbers[start]:
            end += 1
        dispatched = delivered = None
        open_at: list[tuple[str, datetime]] = []
        for i in range(start, end):
            kind, stamp = kinds[i], stamps[i]
            if kind == "dispatch" and dispatched is None:
                dispatched = stamp
            elif kind == "deliver" and delivered is None:
                delivered = stamp
            if kind == "exception":
                open_at.append((where[i], stamp))  # type: ignore[arg-type]
            elif kind in ("deliver", "return") and open_at:
                exceptions.extend((numbers[start], s, o, stamp) for s, o in open_at)
                open_at = []
        exceptions.extend((numbers[start], s, o, None) for s, o in open_at)
        status.append((numbers[start], where[end - 1], stamps[end - 1], dispatched, delivered))
        start = end
    return status, exceptions


def put_workflow(engine: sa.Engine, tables: dict[str, pa.Table]) -> dict[str, int]:
    """Load the world's workflow facts; returns rows written per table."""
    staff = tables["employees"]
    ids = staff["employee_id"].to_pylist()
    roles = staff["role"].to_pylist()
    hired = staff["hired_on"].to_pylist()
    device_rows: list[tuple[object, ...]] = []
    for employee, role, day in zip(ids, roles, hired, strict=True):
        # hired_on is a carrier (Beijing) date: a joiner's first morning shift starts before
        # UTC midnight of that date, so registering at UTC midnight would lock her out.
        since = datetime.combine(day, time(), CARRIER_TZ).astimezone(UTC)
        device_rows.append((f"W{employee}", employee, "workstation", since, None))
        if role == "courier":
            device_rows.append((f"H{employee}", employee, "handheld", since, None))
    status, exceptions = _status_and_exceptions(tables["scans"])
    plan: list[tuple[sa.Table, Sequence[str], Iterable[tuple[object, ...]]]] = [
        (employees, ("employee_id", "role", "site_id", "hired_on", "left_on"), _rows(staff)),
        (sites, ("site_id", "kind", "adcode"), _rows(tables["sites"])),
        (devices, ("device_id", "employee_id", "kind", "registered_at", "revoked_at"), device_rows),
        (
            assignments,
            ("waybill_no", "courier_id", "assigned_at", "until"),
            _rows(tables["assignments"]),
        ),
        (
            parcel_status,
            ("waybill_no", "current_site_id", "last_scan_at", "dispatched_at", "delivered_at"),
            status,
        ),
        (parcel_exceptions, ("waybill_no", "site_id", "opened_at", "closed_at"), exceptions),
        (
            tickets,
            ("ticket_id", "waybill_no", "agent_id", "opened_at", "closed_at", "kind"),
            _rows(tables["tickets"]),
        ),
    ]
    written: dict[str, int] = {}
    with begin_write(engine) as conn:
        stamp = datetime_stamp(conn)
        for table, columns, rows in plan:
            sql = insert_sql(conn, table, columns)
            batch: list[tuple[object, ...]] = []
            count = 0
            for row in rows:
                batch.append(tuple(stamp(v) if isinstance(v, datetime) else v for v in row))
                if len(batch) >= _BATCH:
                    insert_rows(conn, sql, batch)
                    count += len(batch)
                    batch = []
            insert_rows(conn, sql, batch)
            written[table.name] = count + len(batch)
    return written


def _rows(table: pa.Table) -> Iterable[tuple[object, ...]]:
    columns = [
        [_utc(v) if isinstance(v, datetime) else v for v in table[name].to_pylist()]
        for name in table.schema.names
    ]
    return zip(*columns, strict=True) if columns else iter(())


__all__ = ["put_workflow"]
