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

import numpy as np
import numpy.typing as npt
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
    """Each parcel's status and its exceptions, from its scans, in columns not rows.

    Why vectorised: a month of a big carrier is tens of millions of scans, and a Python loop
    over them (with a datetime object each) was most of the live simulation's set-up
    (measured: 7.3 of 15 s for one day of 100,000 waybills).
    """
    if scans.num_rows == 0:
        return [], []
    order = pc.sort_indices(scans, [("waybill_no", "ascending"), ("ts", "ascending")])
    ordered = scans.take(order)
    numbers = ordered["waybill_no"].combine_chunks()
    n = len(numbers)
    # Group boundaries: a row starts a group when its waybill differs from the row before.
    starts = np.ones(n, dtype=bool)
    starts[1:] = pc.not_equal(numbers[1:], numbers[:-1]).to_numpy(zero_copy_only=False)
    group = np.cumsum(starts) - 1
    first_row = np.flatnonzero(starts)
    last_row = np.append(first_row[1:] - 1, n - 1)
    kinds = ordered["kind"].combine_chunks()
    stamps = ordered["ts"].combine_chunks()

    def first_of(kind: str) -> list[datetime | None]:
        """Per group, the time of its first scan of ``kind``, or None."""
        rows = np.flatnonzero(pc.equal(kinds, kind).to_numpy(zero_copy_only=False))
        at = np.full(len(first_row), -1, dtype=np.int64)
        keep = np.ones(len(rows), dtype=bool)
        keep[1:] = group[rows[1:]] != group[rows[:-1]]  # the first such row of each group
        at[group[rows[keep]]] = rows[keep]
        times = _times(stamps, at[at >= 0])
        found: list[datetime | None] = [None] * len(first_row)
        for g, moment in zip(np.flatnonzero(at >= 0).tolist(), times, strict=True):
            found[g] = moment
        return found

    dispatched, delivered = first_of("dispatch"), first_of("deliver")
    status: list[tuple[object, ...]] = list(
        zip(
            numbers.take(pa.array(first_row)).to_pylist(),
            ordered["site_id"].combine_chunks().take(pa.array(last_row)).to_pylist(),
            _times(stamps, last_row),
            dispatched,
            delivered,
            strict=True,
        )
    )
    # An exception scan opens an exception at its site; the parcel's next deliver or return
    # scan closes it (and every other exception open then); none: still open.
    opened = np.flatnonzero(pc.equal(kinds, "exception").to_numpy(zero_copy_only=False))
    if not len(opened):
        return status, []
    closing = np.flatnonzero(
        pc.is_in(kinds, value_set=pa.array(["deliver", "return"])).to_numpy(zero_copy_only=False)
    )
    nxt = np.searchsorted(closing, opened, side="right")
    has = nxt < len(closing)
    closer = np.where(has, closing[np.minimum(nxt, max(len(closing) - 1, 0))], -1)
    has &= (closer >= 0) & (group[np.maximum(closer, 0)] == group[opened])
    closed_at: list[datetime | None] = [None] * len(opened)
    for k, moment in zip(np.flatnonzero(has).tolist(), _times(stamps, closer[has]), strict=True):
        closed_at[k] = moment
    exceptions: list[tuple[object, ...]] = list(
        zip(
            numbers.take(pa.array(opened)).to_pylist(),
            ordered["site_id"].combine_chunks().take(pa.array(opened)).to_pylist(),
            _times(stamps, opened),
            closed_at,
            strict=True,
        )
    )
    return status, exceptions


def _times(stamps: pa.Array, rows: npt.NDArray[np.int64]) -> list[datetime]:
    """The scans' times at ``rows`` as aware UTC datetimes."""
    return [_utc(t) for t in stamps.take(pa.array(rows, type=pa.int64())).to_pylist()]  # type: ignore[misc]


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
