"""The world as the exchange-format tables of ``shared/spec/events.md`` (Arrow)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from parcelguard.simulate.activity import (
    ACTIONS,
    CHANNELS,
    DECISIONS,
    FIELDS,
    PURPOSES,
    TICKET_KINDS,
)
from parcelguard.simulate.reference import districts
from parcelguard.simulate.scenarios import Label
from parcelguard.simulate.world import CATEGORIES, I64, ROLES, SITE_KINDS, World, role_code

TS = pa.timestamp("us", tz="+08:00")
SCAN_KINDS = ("pickup", "arrive", "depart", "dispatch", "deliver", "exception", "return")


def _ts(values: I64) -> pa.Array:
    return pa.array(values, type=pa.int64()).cast(TS)


def _pick(names: tuple[str, ...], codes: npt.NDArray[np.generic]) -> pa.Array:
    """Dictionary-decode small codes to strings without a Python loop."""
    return pa.DictionaryArray.from_arrays(pa.array(codes, type=pa.int32()), pa.array(names)).cast(
        pa.string()
    )


def world_tables(
    world: World,
    accesses: dict[str, npt.NDArray[np.generic]],
    cases: dict[str, npt.NDArray[np.generic]],
    labels: list[Label],
) -> dict[str, pa.Table]:
    return {
        "employees": _employees(world),
        "sites": _sites(world),
        "senders": _senders(world),
        "waybills": _waybills(world),
        "scans": _scans(world),
        "assignments": _assignments(world),
        "tickets": _tickets(world, cases),
        "accesses": _accesses(world, accesses),
        "labels": _labels(world, labels),
    }


def _employees(world: World) -> pa.Table:
    s, start = world.staff, world.config.start
    epoch = np.datetime64(start, "D")
    hired = epoch + s.hired_day.astype("timedelta64[D]")
    left = pa.array(epoch + np.maximum(s.left_day, 0).astype("timedelta64[D]"), type=pa.date32())
    left = pa.compute.if_else(pa.array(s.left_day < 0), pa.scalar(None, pa.date32()), left)
    return pa.table(
        {
            "employee_id": pa.array(s.ids),
            "role": _pick(ROLES, s.role),
            "site_id": pa.array(world.sites.ids[s.site]),
            "hired_on": pa.array(hired, type=pa.date32()),
            "left_on": left,
        }
    )


def _sites(world: World) -> pa.Table:
    return pa.table(
        {
            "site_id": pa.array(world.sites.ids),
            "kind": _pick(SITE_KINDS, world.sites.kind),
            "adcode": pa.array(districts().adcode[world.sites.district]),
        }
    )


def _senders(world: World) -> pa.Table:
    s = world.senders
    return pa.table(
        {
            "sender_id": pa.array(s.ids),
            "category": _pick(CATEGORIES, s.category),
            "bulk": pa.array(s.bulk),
        }
    )


def _waybills(world: World) -> pa.Table:
    w, sites = world.waybills, world.sites
    return pa.table(
        {
            "waybill_no": pa.array(w.numbers),
            "sender_id": pa.array(world.senders.ids[w.sender]),
            "created_at": _ts(w.created),
            "origin_site_id": pa.array(sites.ids[w.origin]),
            "dest_site_id": pa.array(sites.ids[w.dest]),
            "dest_adcode": pa.array(districts().adcode[w.dest_district]),
        }
    )


def staff_at(
    world: World, role: str, site: npt.NDArray[np.int32], key: I64
) -> npt.NDArray[np.int32]:
    """A member of ``role`` at each site (stable per key); anyone of the role where none is."""
    everyone = np.flatnonzero(world.staff.role == role_code(role)).astype(np.int32)
    out = everyone[key % everyone.size]
    for s in np.unique(site):
        members = world.by_role_site.get((role_code(role), int(s)))
        if members is not None:
            mask = site == s
            out[mask] = members[key[mask] % members.size]
    return out


def _scans(world: World) -> pa.Table:
    w = world.waybills
    n = w.created.size
    key = np.arange(n, dtype=np.int64)
    span = w.arrive - w.pickup
    two_hubs = w.hub_out != w.hub_in
    origin_clerk = staff_at(world, "station_clerk", w.origin, key)
    dest_clerk = staff_at(world, "station_clerk", w.dest, key)
    hub_in_clerk = staff_at(world, "warehouse_clerk", w.hub_in, key)
    hub_out_clerk = staff_at(world, "warehouse_clerk", w.hub_out, key)
    courier = np.where(w.courier >= 0, w.courier, dest_clerk)
    picker = np.where(w.pickup_courier >= 0, w.pickup_courier, origin_clerk)
    steps: list[
        tuple[I64, npt.NDArray[np.int32], npt.NDArray[np.int32], int, npt.NDArray[np.bool_]]
    ]
    everyone = np.ones(n, dtype=bool)
    last = np.where(w.returned, SCAN_KINDS.index("return"), SCAN_KINDS.index("deliver"))
    steps = [
        (w.pickup, w.origin, picker, 0, everyone),
        (w.pickup + span // 10, w.origin, origin_clerk, 2, everyone),
        (w.pickup + span * 3 // 10, w.hub_in, hub_in_clerk, 1, everyone),
        (w.pickup + span * 4 // 10, w.hub_in, hub_in_clerk, 2, everyone),
        (w.pickup + span * 6 // 10, w.hub_out, hub_out_clerk, 1, two_hubs),
        (w.pickup + span * 7 // 10, w.hub_out, hub_out_clerk, 2, two_hubs),
        (w.arrive, w.dest, dest_clerk, 1, everyone),
        (w.arrive + span // 20 + 1, w.dest, dest_clerk, 5, w.exception),
        (w.dispatch, w.dest, courier, 3, ~w.returned),
        (w.deliver, w.dest, np.where(w.returned, dest_clerk, courier), -1, everyone),
    ]
    ts, site, who, kind, waybill = [], [], [], [], []
    for when, where, by, k, mask in steps:
        idx = np.flatnonzero(mask)
        ts.append(when[idx])
        site.append(where[idx])
        who.append(by[idx])
        kind.append(last[idx] if k < 0 else np.full(idx.size, k))
        waybill.append(idx)
    order = np.lexsort((np.concatenate(kind), np.concatenate(ts)))
    all_wb = np.concatenate(waybill)[order]
    return pa.table(
        {
            "ts": _ts(np.concatenate(ts)[order]),
            "waybill_no": pa.array(w.numbers[all_wb]),
            "site_id": pa.array(world.sites.ids[np.concatenate(site)[order]]),
            "employee_id": pa.array(world.staff.ids[np.concatenate(who)[order]]),
            "kind": _pick(SCAN_KINDS, np.concatenate(kind)[order]),
        }
    )


def _assignments(world: World) -> pa.Table:
    w = world.waybills
    pick = np.flatnonzero(w.pickup_courier >= 0)
    drop = np.flatnonzero(w.courier >= 0)
    waybill = np.concatenate([pick, drop])
    courier = np.concatenate([w.pickup_courier[pick], w.courier[drop]])
    start = np.concatenate([w.created[pick], w.arrive[drop]])
    until = np.concatenate(
        [w.pickup[pick], w.deliver[drop] + int(timedelta(days=1).total_seconds()) * 1_000_000]
    )
    order = np.lexsort((waybill, start))
    return pa.table(
        {
            "waybill_no": pa.array(w.numbers[waybill[order]]),
            "courier_id": pa.array(world.staff.ids[courier[order]]),
            "assigned_at": _ts(start[order]),
            "until": _ts(until[order]),
        }
    )


def _tickets(world: World, cases: dict[str, npt.NDArray[np.generic]]) -> pa.Table:
    opened = cases["opened"].astype(np.int64)
    order = np.argsort(opened, kind="stable")
    closed = _ts(cases["closed"].astype(np.int64)[order])
    closed = pa.compute.if_else(
        pa.array(cases["open"][order].astype(bool)), pa.scalar(None, TS), closed
    )
    ids = np.char.add("T", np.char.zfill(np.arange(1, opened.size + 1).astype(str), 8))
    return pa.table(
        {
            "ticket_id": pa.array(ids),
            "waybill_no": pa.array(
                world.waybills.numbers[cases["waybill"].astype(np.int64)[order]]
            ),
            "agent_id": pa.array(world.staff.ids[cases["agent"].astype(np.int64)[order]]),
            "opened_at": _ts(opened[order]),
            "closed_at": closed,
            "kind": _pick(TICKET_KINDS, cases["kind"].astype(np.int64)[order]),
        }
    )


def _accesses(world: World, a: dict[str, npt.NDArray[np.generic]]) -> pa.Table:
    n = a["ts"].size
    employee = a["employee"].astype(np.int64)
    waybill = a["waybill"].astype(np.int64)
    numbers = np.where(waybill >= 0, world.waybills.numbers[np.maximum(waybill, 0)], a["foreign"])
    channel = a["channel"].astype(np.int64)
    own_device = np.char.add(np.array(["H", "W", "A"])[channel], world.staff.ids[employee])
    device = np.where(a["device"] == "", own_device, a["device"])
    site = world.staff.site[employee]
    own_ip = np.char.add(
        np.char.add("10.", (site // 250).astype(str)),
        np.char.add(
            np.char.add(".", (site % 250).astype(str)),
            np.char.add(".", (employee % 250 + 2).astype(str)),
        ),
    )
    ip = np.where(a["ip"] == "", own_ip, a["ip"])
    return pa.table(
        {
            "event_id": pa.array(
                np.char.add("A", np.char.zfill(np.arange(1, n + 1).astype(str), 10))
            ),
            "ts": _ts(a["ts"].astype(np.int64)),
            "employee_id": pa.array(world.staff.ids[employee]),
            "action": _pick(ACTIONS, a["action"]),
            "waybill_no": pa.array(numbers),
            "field": _pick(FIELDS, a["field"]),
            "purpose": _pick(PURPOSES, a["purpose"]),
            "channel": _pick(CHANNELS, channel),
            "device_id": pa.array(device),
            "ip": pa.array(ip),
            "decision": _pick(DECISIONS, a["decision"]),
            "reason": pa.array(a["reason"]),
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
