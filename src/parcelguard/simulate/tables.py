"""The world as the exchange-format tables of ``shared/spec/events.md`` (Arrow), in chunks.

Tables are produced a day of waybills (or a million events) at a time, so a month at
300,000 waybills a day never has its 80 million scans in memory at once: a writer can stream
the chunks to disk. Text (ids, numbers, devices) is made here, by Arrow, only for the rows of
the chunk being written.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from parcelguard.events.schema import CATEGORIES, ROLES, SCAN_KINDS, SITE_KINDS
from parcelguard.simulate.activity import (
    ACTIONS,
    CHANNELS,
    DECISIONS,
    FIELDS,
    PURPOSES,
    TICKET_KINDS,
    exception_clerks,
)
from parcelguard.simulate.reference import districts
from parcelguard.simulate.scenarios import Label
from parcelguard.simulate.world import DAY, I64, World, local_day, on_duty, role_code

TS = pa.timestamp("us", tz="+08:00")
EVENT_CHUNK = 1 << 20
Columns = dict[str, npt.NDArray[np.generic]]
Chunk = tuple[str, pa.Table]


def _ts(values: npt.NDArray[np.generic]) -> pa.Array:
    return pa.array(np.asarray(values, dtype=np.int64), type=pa.int64()).cast(TS)


def _take(names: pa.Array, index: npt.NDArray[np.generic]) -> pa.Array:
    """Text of ``index`` from a small dictionary (ids, enumerations), without a Python loop."""
    return names.take(pa.array(np.asarray(index, dtype=np.int64)))


def _pick(names: tuple[str, ...], codes: npt.NDArray[np.generic]) -> pa.Array:
    return _take(pa.array(names, pa.string()), codes)


def world_chunks(
    world: World,
    accesses: Columns,
    texts: npt.NDArray[np.str_],
    cases: Columns,
    labels: list[Label],
) -> Iterator[Chunk]:
    """Every table of the world, chunk by chunk; each table's chunks come in row order."""
    staff_ids = pa.array(world.staff.ids, pa.string())
    site_ids = pa.array(world.sites.ids, pa.string())
    yield "employees", _employees(world, site_ids)
    yield "sites", _sites(world)
    yield "senders", _senders(world)
    w = world.waybills
    bounds = world.config.start_us + np.arange(world.config.days + 2) * DAY
    edges = np.searchsorted(w.created, bounds)
    edges[-1] = w.created.size
    for lo, hi in itertools.pairwise(edges):
        if hi <= lo:
            continue
        yield "waybills", _waybills(world, int(lo), int(hi), site_ids)
        yield "scans", _scans(world, int(lo), int(hi), staff_ids, site_ids)
        yield "assignments", _assignments(world, int(lo), int(hi), staff_ids)
    order = np.argsort(cases["opened"].astype(np.int64), kind="stable")
    for start in range(0, max(order.size, 1), EVENT_CHUNK):
        yield (
            "tickets",
            _tickets(world, cases, order[start : start + EVENT_CHUNK], start, staff_ids),
        )
    for start in range(0, max(accesses["ts"].size, 1), EVENT_CHUNK):
        part = {name: column[start : start + EVENT_CHUNK] for name, column in accesses.items()}
        yield "accesses", _accesses(world, part, start, texts, staff_ids)
    yield "labels", _labels(world, labels)


def world_tables(
    world: World,
    accesses: Columns,
    texts: npt.NDArray[np.str_],
    cases: Columns,
    labels: list[Label],
) -> dict[str, pa.Table]:
    """The whole world in memory (tests, the demo, small worlds)."""
    parts: dict[str, list[pa.Table]] = {}
    for name, chunk in world_chunks(world, accesses, texts, cases, labels):
        parts.setdefault(name, []).append(chunk)
    return {name: pa.concat_tables(chunks).combine_chunks() for name, chunks in parts.items()}


def _employees(world: World, site_ids: pa.Array) -> pa.Table:
    s, start = world.staff, world.config.start
    epoch = np.datetime64(start, "D")
    hired = epoch + s.hired_day.astype("timedelta64[D]")
    left = pa.array(epoch + np.maximum(s.left_day, 0).astype("timedelta64[D]"), type=pa.date32())
    left = pc.if_else(pa.array(s.left_day < 0), pa.scalar(None, pa.date32()), left)
    return pa.table(
        {
            "employee_id": pa.array(s.ids, pa.string()),
            "role": _pick(ROLES, s.role),
            "site_id": _take(site_ids, s.site),
            "hired_on": pa.array(hired, type=pa.date32()),
            "left_on": left,
        }
    )


def _sites(world: World) -> pa.Table:
    return pa.table(
        {
            "site_id": pa.array(world.sites.ids, pa.string()),
            "kind": _pick(SITE_KINDS, world.sites.kind),
            "adcode": pa.array(districts().adcode[world.sites.district], pa.string()),
        }
    )


def _senders(world: World) -> pa.Table:
    s = world.senders
    return pa.table(
        {
            "sender_id": pa.array(s.ids, pa.string()),
            "category": _pick(CATEGORIES, s.category),
            "bulk": pa.array(s.bulk),
        }
    )


def _waybills(world: World, lo: int, hi: int, site_ids: pa.Array) -> pa.Table:
    w = world.waybills
    adcodes = pa.array(districts().adcode, pa.string())
    return pa.table(
        {
            "waybill_no": w.numbers(np.arange(lo, hi)),
            "sender_id": _take(pa.array(world.senders.ids, pa.string()), w.sender[lo:hi]),
            "created_at": _ts(w.created[lo:hi]),
            "origin_site_id": _take(site_ids, w.origin[lo:hi]),
            "dest_site_id": _take(site_ids, w.dest[lo:hi]),
            "dest_adcode": _take(adcodes, w.dest_district[lo:hi]),
        }
    )


def staff_at(
    world: World, role: str, site: npt.NDArray[np.int32], key: I64, when: I64
) -> npt.NDArray[np.int32]:
    """A member of ``role`` at each site employed at ``when`` (stable per key).

    Where the site has nobody of the role on the payroll, anyone of the role who is: a scan is
    always somebody's, and never a person's who has left or not joined yet.
    """
    code = role_code(role)
    day = local_day(world.config, when)
    out = on_duty(world.staff, world.by_role_site, code, site, day, key)
    missing = np.flatnonzero(out < 0)
    if missing.size:
        everyone = np.flatnonzero(world.staff.role == code).astype(np.int32)
        anyone = {(code, 0): everyone}
        zero = np.zeros(missing.size, dtype=np.int64)
        out[missing] = on_duty(world.staff, anyone, code, zero, day[missing], key[missing])
    return out


def _scans(world: World, lo: int, hi: int, staff_ids: pa.Array, site_ids: pa.Array) -> pa.Table:
    w = world.waybills
    key = np.arange(lo, hi, dtype=np.int64)
    cut = slice(lo, hi)
    pickup, arrive = w.pickup[cut], w.arrive[cut]
    origin, dest, hub_in, hub_out = w.origin[cut], w.dest[cut], w.hub_in[cut], w.hub_out[cut]
    returned, exception = w.returned[cut], w.exception[cut]
    span = arrive - pickup
    two_hubs = hub_out != hub_in
    origin_clerk = staff_at(world, "station_clerk", origin, key, pickup)
    dest_clerk = staff_at(world, "station_clerk", dest, key, arrive)
    hub_in_clerk = staff_at(world, "warehouse_clerk", hub_in, key, pickup + span * 3 // 10)
    hub_out_clerk = staff_at(world, "warehouse_clerk", hub_out, key, pickup + span * 6 // 10)
    # The exception is recorded (and then worked, see activity) by the clerk on duty.
    noted = exception_clerks(world, key)
    exception_clerk = np.where(noted >= 0, noted, dest_clerk)
    courier = np.where(w.courier[cut] >= 0, w.courier[cut], dest_clerk)
    picker = np.where(w.pickup_courier[cut] >= 0, w.pickup_courier[cut], origin_clerk)
    everyone = np.ones(hi - lo, dtype=bool)
    last = np.where(returned, SCAN_KINDS.index("return"), SCAN_KINDS.index("deliver"))
    steps = [
        (pickup, origin, picker, 0, everyone),
        (pickup + span // 10, origin, origin_clerk, 2, everyone),
        (pickup + span * 3 // 10, hub_in, hub_in_clerk, 1, everyone),
        (pickup + span * 4 // 10, hub_in, hub_in_clerk, 2, everyone),
        (pickup + span * 6 // 10, hub_out, hub_out_clerk, 1, two_hubs),
        (pickup + span * 7 // 10, hub_out, hub_out_clerk, 2, two_hubs),
        (arrive, dest, dest_clerk, 1, everyone),
        (w.exception_at[cut], dest, exception_clerk, 5, exception),
        (w.dispatch[cut], dest, courier, 3, ~returned),
        (w.deliver[cut], dest, np.where(returned, dest_clerk, courier), -1, everyone),
    ]
    ts, site, who, kind, waybill = [], [], [], [], []
    for when, where, by, k, mask in steps:
        idx = np.flatnonzero(mask)
        ts.append(when[idx])
        site.append(where[idx])
        who.append(by[idx])
        kind.append(last[idx] if k < 0 else np.full(idx.size, k))
        waybill.append(idx + lo)
    order = np.lexsort((np.concatenate(kind), np.concatenate(ts)))
    return pa.table(
        {
            "ts": _ts(np.concatenate(ts)[order]),
            "waybill_no": w.numbers(np.concatenate(waybill)[order]),
            "site_id": _take(site_ids, np.concatenate(site)[order]),
            "employee_id": _take(staff_ids, np.concatenate(who)[order]),
            "kind": _pick(SCAN_KINDS, np.concatenate(kind)[order]),
        }
    )


def _assignments(world: World, lo: int, hi: int, staff_ids: pa.Array) -> pa.Table:
    """Pickup and delivery assignments, with the reassignments (改派) of covered routes.

    A covered parcel is the route courier's from its arrival until the handover, then the
    covering colleague's until the end of that day (local midnight); one that arrives after
    the handover is the colleague's from its arrival.
    """
    w = world.waybills
    pick = np.flatnonzero(w.pickup_courier[lo:hi] >= 0) + lo
    drop = np.flatnonzero(w.route_courier[lo:hi] >= 0) + lo
    covered = w.handover[drop] >= 0
    held = drop[~covered | (w.handover[drop] > w.arrive[drop])]
    moved = drop[covered]
    start_of_day = world.config.start_us + local_day(world.config, w.handover[moved]) * DAY
    waybill = np.concatenate([pick, held, moved])
    courier = np.concatenate([w.pickup_courier[pick], w.route_courier[held], w.courier[moved]])
    start = np.concatenate([w.created[pick], w.arrive[held], w.handover[moved]])
    until = np.concatenate(
        [
            w.pickup[pick],
            np.where(w.handover[held] >= 0, w.handover[held], w.deliver[held] + DAY),
            start_of_day + DAY,
        ]
    )
    order = np.lexsort((waybill, start))
    return pa.table(
        {
            "waybill_no": w.numbers(waybill[order]),
            "courier_id": _take(staff_ids, courier[order]),
            "assigned_at": _ts(start[order]),
            "until": _ts(until[order]),
        }
    )


def _tickets(world: World, cases: Columns, order: I64, first: int, staff_ids: pa.Array) -> pa.Table:
    closed = _ts(cases["closed"][order])
    closed = pc.if_else(pa.array(cases["open"][order].astype(bool)), pa.scalar(None, TS), closed)
    serial = pa.array(np.arange(first + 1, first + order.size + 1)).cast(pa.string())
    return pa.table(
        {
            "ticket_id": pc.binary_join_element_wise("T", pc.utf8_lpad(serial, 8, "0"), ""),
            "waybill_no": world.waybills.numbers(cases["waybill"][order]),
            "agent_id": _take(staff_ids, cases["agent"][order]),
            "opened_at": _ts(cases["opened"][order]),
            "closed_at": closed,
            "kind": _pick(TICKET_KINDS, cases["kind"][order]),
        }
    )


def _accesses(
    world: World, a: Columns, first: int, texts: npt.NDArray[np.str_], staff_ids: pa.Array
) -> pa.Table:
    n = a["ts"].size
    employee = a["employee"].astype(np.int64)
    waybill = a["waybill"].astype(np.int64)
    text = pa.array(texts, pa.string())
    numbers = pc.if_else(
        pa.array(waybill >= 0),
        world.waybills.numbers(np.maximum(waybill, 0)),
        _take(text, a["foreign"]),
    )
    names = _take(staff_ids, employee)
    own_device = pc.binary_join_element_wise(_pick(("H", "W", "A"), a["channel"]), names, "")
    device = pc.if_else(pa.array(a["device"] == 0), own_device, _take(text, a["device"]))
    site = world.staff.site[employee].astype(np.int64)
    octets = [pa.array(x).cast(pa.string()) for x in (site // 250, site % 250, employee % 250 + 2)]
    own_ip = pc.binary_join_element_wise("10", *octets, ".")
    ip = pc.if_else(pa.array(a["ip"] == 0), own_ip, _take(text, a["ip"]))
    serial = pa.array(np.arange(first + 1, first + n + 1)).cast(pa.string())
    return pa.table(
        {
            "event_id": pc.binary_join_element_wise("A", pc.utf8_lpad(serial, 10, "0"), ""),
            "ts": _ts(a["ts"]),
            "employee_id": names,
            "action": _pick(ACTIONS, a["action"]),
            "waybill_no": numbers,
            "field": _pick(FIELDS, a["field"]),
            "purpose": _pick(PURPOSES, a["purpose"]),
            "channel": _pick(CHANNELS, a["channel"]),
            "device_id": device,
            "ip": ip,
            "decision": _pick(DECISIONS, a["decision"]),
            "reason": _take(text, a["reason"]),
        }
    )


def _labels(world: World, labels: list[Label]) -> pa.Table:
    ordered = sorted(labels, key=lambda x: (x.scenario, x.started, x.employee))
    return pa.table(
        {
            "employee_id": pa.array(
                [str(world.staff.ids[x.employee]) for x in ordered], pa.string()
            ),
            "scenario": pa.array([x.scenario for x in ordered], pa.string()),
            "started_at": _ts(np.array([x.started for x in ordered], dtype=np.int64)),
            "ended_at": _ts(np.array([x.ended for x in ordered], dtype=np.int64)),
        }
    )
