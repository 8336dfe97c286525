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

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from parcelguard.core.clock import CARRIER_TZ
from parcelguard.storage import begin_write
from parcelguard.storage.bulk import datetime_stamp, gc_paused, insert_rows, insert_sql
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


Column: TypeAlias = "pa.Array | pa.ChunkedArray | list[object]"
"""A column of values to insert: Arrow (converted in one pass) or already Python values."""


def _status_and_exceptions(scans: pa.Table) -> tuple[list[Column], list[Column]]:
    """Each parcel's status and its exceptions, from its scans, in columns not rows.

    Why vectorised: a month of a big carrier is tens of millions of scans, and a Python loop
    over them (with a datetime object each) was most of the live simulation's set-up
    (measured: 7.3 of 15 s for one day of 100,000 waybills). Times stay Arrow arrays until
    they are written, so they are formatted for the store in one pass too.
    """
    if scans.num_rows == 0:
        return [[] for _ in range(5)], [[] for _ in range(4)]
    order = pc.sort_indices(scans, [("waybill_no", "ascending"), ("ts", "ascending")])
    ordered = scans.take(order)
    numbers = ordered["waybill_no"].combine_chunks()
    sites_of = ordered["site_id"].combine_chunks()
    n = len(numbers)
    # Group boundaries: a row starts a group when its waybill differs from the row before.
    starts = np.ones(n, dtype=bool)
    starts[1:] = pc.not_equal(numbers[1:], numbers[:-1]).to_numpy(zero_copy_only=False)
    group = np.cumsum(starts) - 1
    first_row = np.flatnonzero(starts)
    last_row = np.append(first_row[1:] - 1, n - 1)
    kinds = ordered["kind"].combine_chunks()
    stamps = ordered["ts"].combine_chunks()

    def at_rows(
        rows: npt.NDArray[np.int64], present: npt.NDArray[np.bool_] | None = None
    ) -> pa.Array:
        """The scans' times at ``rows``; null where ``present`` is False."""
        mask = None if present is None else ~present
        return stamps.take(pa.array(rows, type=pa.int64(), mask=mask))

    def first_of(kind: str) -> pa.Array:
        """Per group, the time of its first scan of ``kind``, or null."""
        rows = np.flatnonzero(pc.equal(kinds, kind).to_numpy(zero_copy_only=False))
        at = np.full(len(first_row), -1, dtype=np.int64)
        keep = np.ones(len(rows), dtype=bool)
        keep[1:] = group[rows[1:]] != group[rows[:-1]]  # the first such row of each group
        at[group[rows[keep]]] = rows[keep]
        return at_rows(np.maximum(at, 0), at >= 0)

    status: list[Column] = [
        numbers.take(pa.array(first_row)),
        sites_of.take(pa.array(last_row)),
        at_rows(last_row),
        first_of("dispatch"),
        first_of("deliver"),
    ]
    # An exception scan opens an exception at its site; the parcel's next deliver or return
    # scan closes it (and every other exception open then); none: still open.
    opened = np.flatnonzero(pc.equal(kinds, "exception").to_numpy(zero_copy_only=False))
    if not len(opened):
        return status, [[] for _ in range(4)]
    closing = np.flatnonzero(
        pc.is_in(kinds, value_set=pa.array(["deliver", "return"])).to_numpy(zero_copy_only=False)
    )
    nxt = np.searchsorted(closing, opened, side="right")
    has = nxt < len(closing)
    closer = np.where(has, closing[np.minimum(nxt, max(len(closing) - 1, 0))], -1)
    has &= (closer >= 0) & (group[np.maximum(closer, 0)] == group[opened])
    exceptions: list[Column] = [
        numbers.take(pa.array(opened)),
        sites_of.take(pa.array(opened)),
        at_rows(opened),
        at_rows(np.maximum(closer, 0), has),
    ]
    return status, exceptions


def _stored(values: Column, stamp: Callable[[datetime], object], sqlite: bool) -> list[object]:
    """A column as the driver takes it; Arrow times formatted for the store in one pass.

    Why: converting each time to a Python datetime, then to UTC, then to SQLite's text cost
    more than SQLite's own inserts (measured: most of ``put_workflow``'s 37 s for three days
    of 100,000 waybills). Arrow writes a column of times as text in C; it is exactly
    :func:`parcelguard.storage.bulk.datetime_stamp`'s (a test compares them).
    """
    if isinstance(values, list):
        return [stamp(v) if isinstance(v, datetime) else v for v in values]
    if pa.types.is_timestamp(values.type) and values.type.tz is not None:
        utc = values.cast(pa.timestamp("us", tz="UTC"), safe=False)
        if sqlite:  # UTC wall-clock time as text: Arrow's cast, ten times its strftime
            return utc.cast(pa.timestamp("us")).cast(pa.string()).to_pylist()  # type: ignore[no-any-return]
        return utc.to_pylist()  # type: ignore[no-any-return]
    return [stamp(v) if isinstance(v, datetime) else v for v in values.to_pylist()]


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
    plan: list[tuple[sa.Table, Sequence[str], Sequence[Column]]] = [
        (employees, ("employee_id", "role", "site_id", "hired_on", "left_on"), _columns(staff)),
        (sites, ("site_id", "kind", "adcode"), _columns(tables["sites"])),
        (
            devices,
            ("device_id", "employee_id", "kind", "registered_at", "revoked_at"),
            [list(column) for column in zip(*device_rows, strict=True)] or [[]] * 5,
        ),
        (
            assignments,
            ("waybill_no", "courier_id", "assigned_at", "until"),
            _columns(tables["assignments"]),
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
            _columns(tables["tickets"]),
        ),
    ]
    written: dict[str, int] = {}
    with gc_paused(), begin_write(engine) as conn:
        stamp = datetime_stamp(conn)
        sqlite = conn.dialect.name == "sqlite"
        for table, names, columns in plan:
            if len(columns) != len(names):
                raise ValueError(f"{table.name}: {len(columns)} columns for {len(names)} names")
            sql = insert_sql(conn, table, names)
            total = len(columns[0]) if columns else 0
            for begin in range(0, total, _BATCH):
                part = [_stored(c[begin : begin + _BATCH], stamp, sqlite) for c in columns]
                insert_rows(conn, sql, list(zip(*part, strict=True)))
            written[table.name] = total
    return written


def _columns(table: pa.Table) -> list[Column]:
    return [table[name] for name in table.schema.names]


__all__ = ["put_workflow"]
