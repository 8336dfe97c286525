"""Who touched which waybill, when and why: the access log, honest part.

Events are added in vectorised batches (one call per kind of work, not per event) and only
turned into strings when the table is written. Honest work is explained by the workflow (the
courier holds the parcel, the clerk's station has its exception open, the agent has the
ticket), because that is how a carrier works; it still carries the noise real operations
have, kept small: fat-fingered numbers, an agent now and then revealing a moment before she
has saved the ticket, failed logins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import numpy as np
import numpy.typing as npt

from parcelguard.events import schema
from parcelguard.simulate.world import (
    DAY,
    HOUR,
    I64,
    LOCAL,
    MINUTE,
    US,
    World,
    employed,
    local_day,
    on_duty,
    role_code,
)

ACTIONS = ("login", "login_failed", "search", "view_masked", "reveal", "export")
FIELDS = ("", "name", "phone", "address")
PURPOSES = ("", "delivery", "pickup", "exception", "customer_service", "investigation", "other")
CHANNELS = ("handheld", "web", "api")
DECISIONS = ("allow", "deny")
# Roles that, in the legacy regime of the case, may look up any waybill in the country.
LEGACY_NATIONWIDE = (
    "warehouse_clerk",
    "cs_agent",
    "station_manager",
    "security_officer",
    "hq_analyst",
)
TICKET_KINDS = schema.TICKET_KINDS

Codes = npt.NDArray[np.int8]
Texts = npt.NDArray[np.int32]


def code(table: tuple[str, ...], name: str) -> int:
    return table.index(name)


@dataclass(slots=True)
class AccessLog:
    """Columns of access events, appended batch by batch, all as small integers.

    Text that only some events carry (reasons, scenario devices and networks, other
    carriers' numbers) is interned in :attr:`texts` and stored as codes: a text column over
    ten million events would cost more than every other column together. Code 0 is "".
    """

    ts: list[I64] = field(default_factory=list)
    employee: list[npt.NDArray[np.int32]] = field(default_factory=list)
    action: list[Codes] = field(default_factory=list)
    waybill: list[I64] = field(default_factory=list)  # -1: none or a foreign number
    foreign: list[Texts] = field(default_factory=list)  # other carrier's number, or 0
    field_: list[Codes] = field(default_factory=list)
    purpose: list[Codes] = field(default_factory=list)
    channel: list[Codes] = field(default_factory=list)
    decision: list[Codes] = field(default_factory=list)
    reason: list[Texts] = field(default_factory=list)
    device: list[Texts] = field(default_factory=list)  # 0: the employee's own device
    ip: list[Texts] = field(default_factory=list)  # 0: the employee's site network
    texts: dict[str, int] = field(default_factory=lambda: {"": 0})

    def intern(self, values: npt.ArrayLike, n: int) -> Texts:
        array = np.asarray(values)
        if array.ndim == 0:
            text = str(array)
            return np.full(n, self.texts.setdefault(text, len(self.texts)), dtype=np.int32)
        unique, inverse = np.unique(array.astype(np.str_), return_inverse=True)
        table = np.array([self.texts.setdefault(str(u), len(self.texts)) for u in unique])
        return table[inverse].astype(np.int32)

    def add(
        self,
        ts: I64,
        employee: npt.ArrayLike,
        action: str,
        *,
        waybill: npt.ArrayLike = -1,
        field: str = "",
        purpose: str = "",
        channel: npt.ArrayLike = "web",
        decision: str = "allow",
        reason: npt.ArrayLike = "ok",
        foreign: npt.ArrayLike = "",
        device: npt.ArrayLike = "",
        ip: npt.ArrayLike = "",
    ) -> None:
        n = ts.size
        if n == 0:
            return

        def full(value: npt.ArrayLike, dtype: type) -> npt.NDArray[np.generic]:
            array = np.asarray(value)
            shaped = np.broadcast_to(array, (n,)) if array.ndim == 0 else array
            return shaped.astype(dtype)

        channels = np.asarray(channel)
        if channels.dtype.kind in "US":
            lookup = np.array([code(CHANNELS, str(u)) for u in np.unique(channels)], dtype=np.int8)
            channels = lookup[np.unique(channels, return_inverse=True)[1]].reshape(channels.shape)
        self.ts.append(ts.astype(np.int64))
        self.employee.append(full(employee, np.int32))  # type: ignore[arg-type]
        self.action.append(np.full(n, code(ACTIONS, action), dtype=np.int8))
        self.waybill.append(full(waybill, np.int64))  # type: ignore[arg-type]
        self.foreign.append(self.intern(foreign, n))
        self.field_.append(np.full(n, code(FIELDS, field), dtype=np.int8))
        self.purpose.append(np.full(n, code(PURPOSES, purpose), dtype=np.int8))
        self.channel.append(full(channels, np.int8))  # type: ignore[arg-type]
        self.decision.append(np.full(n, code(DECISIONS, decision), dtype=np.int8))
        self.reason.append(self.intern(reason, n))
        self.device.append(self.intern(device, n))
        self.ip.append(self.intern(ip, n))

    def columns(self) -> dict[str, npt.NDArray[np.generic]]:
        """All events, sorted by time (stable, so equal times keep their batch order)."""
        names = (
            "ts employee action waybill foreign field purpose channel decision reason device ip"
        ).split()
        parts = (
            self.ts,
            self.employee,
            self.action,
            self.waybill,
            self.foreign,
            self.field_,
            self.purpose,
            self.channel,
            self.decision,
            self.reason,
            self.device,
            self.ip,
        )
        merged = {
            name: np.concatenate(cast(list[npt.NDArray[np.generic]], part))
            for name, part in zip(names, parts, strict=True)
        }
        order = np.argsort(merged["ts"], kind="stable")
        return {name: column[order] for name, column in merged.items()}

    def text_table(self) -> npt.NDArray[np.str_]:
        """Codes to text: ``text_table()[code]``."""
        table = np.empty(len(self.texts), dtype=object)
        for text, number in self.texts.items():
            table[number] = text
        return table.astype(np.str_)


def working(
    world: World, staff: npt.NDArray[np.int32], day: npt.ArrayLike
) -> npt.NDArray[np.bool_]:
    """Whether each employee is on the payroll on that day."""
    return employed(world.staff, staff, day)


def honest_activity(world: World, rng: np.random.Generator) -> AccessLog:
    log = AccessLog()
    _logins(world, log, rng)
    _courier_reveals(world, log, rng)
    _exception_reveals(world, log, rng)
    _investigations(world, log, rng)
    return log


def _logins(world: World, log: AccessLog, rng: np.random.Generator) -> None:
    s, config = world.staff, world.config
    n = s.role.size
    days = np.arange(config.days)
    emp = np.repeat(np.arange(n, dtype=np.int32), days.size)
    day = np.tile(days, n)
    weekday = (day + config.start.weekday()) % 7
    courier = s.role[emp] == role_code("courier")
    works = working(world, emp, day) & (courier | (weekday < 5) | (rng.random(emp.size) < 0.2))
    emp, day, courier = emp[works], day[works], courier[works]
    start = config.start_us + day * 24 * HOUR + 7 * HOUR + rng.integers(0, 150 * MINUTE, emp.size)
    channel = np.where(courier, code(CHANNELS, "handheld"), code(CHANNELS, "web"))
    failed = rng.random(emp.size) < 0.015
    log.add(start[failed] - 2 * MINUTE, emp[failed], "login_failed", channel=channel[failed],
            decision="deny", reason="bad_password")  # fmt: skip
    log.add(start, emp, "login", channel=channel, reason="ok")


def _courier_reveals(world: World, log: AccessLog, rng: np.random.Generator) -> None:
    """Couriers call recipients after taking the parcels out, before delivering them.

    The caller is the courier the parcel is assigned to at that moment: the route's courier,
    or the colleague it was reassigned to at the morning handover (``Waybills.handover``).
    Returned parcels never go out, so nobody calls about them.
    """
    w = world.waybills
    n = w.created.size
    calls = (rng.random(n) < 0.6) & (w.courier >= 0) & ~w.returned
    idx = np.flatnonzero(calls)
    ts = w.dispatch[idx] + rng.integers(0, np.minimum(3 * HOUR, w.deliver[idx] - w.dispatch[idx]))
    who = w.courier[idx]
    log.add(ts, who, "reveal", waybill=idx, field="phone", purpose="delivery",
            channel="handheld", reason="assigned")  # fmt: skip
    # Pickup: the courier sees the masked label of parcels he collects.
    pick = np.flatnonzero((rng.random(n) < 0.3) & (w.pickup_courier >= 0))
    log.add(w.created[pick] + rng.integers(30 * MINUTE, 5 * HOUR, pick.size), w.pickup_courier[pick],
            "view_masked", waybill=pick, purpose="pickup", channel="handheld")  # fmt: skip
    # Fat fingers: now and then, before a call, a mistyped number (a parcel he does not hold),
    # denied; he retypes it.
    typo = rng.choice(idx.size, size=min(idx.size, max(1, idx.size // 400)), replace=False)
    wrong = rng.integers(0, n, typo.size)
    log.add(ts[typo] - 20 * US, who[typo], "reveal", waybill=wrong, field="phone",
            purpose="delivery", channel="handheld", decision="deny", reason="not_permitted")  # fmt: skip


def _exception_reveals(world: World, log: AccessLog, rng: np.random.Generator) -> None:
    """Station clerks work the exceptions at their station while they are open.

    The clerk is the one on duty who recorded the exception (the same choice as its scan in
    ``tables``); she calls in calling hours, within hours of recording it, and before the
    parcel leaves the exception state (its delivery or return closes it).
    """
    w = world.waybills
    idx = np.flatnonzero(w.exception)
    start = _calling_hours(w.exception_at[idx] + MINUTE)
    # The clerk on duty the day she calls: the one who recorded it, unless she is gone by then.
    clerks = on_duty(world.staff, world.by_role_site, role_code("station_clerk"), w.dest[idx],
                     local_day(world.config, start), idx)  # fmt: skip
    evening = start - (start + LOCAL) % DAY + 21 * HOUR
    room = np.minimum(np.minimum(8 * HOUR, evening - start), w.deliver[idx] - start - 2 * MINUTE)
    ts = start + rng.integers(0, np.maximum(room, 1))
    ok = clerks >= 0
    idx, clerks, ts = idx[ok], clerks[ok], ts[ok]
    log.add(
        ts, clerks, "reveal", waybill=idx, field="phone", purpose="exception", reason="exception"
    )
    both = rng.random(idx.size) < 0.5
    log.add(ts[both] + MINUTE, clerks[both], "reveal", waybill=idx[both], field="address",
            purpose="exception", reason="exception")  # fmt: skip


def _calling_hours(ts: I64) -> I64:
    """``ts``, or the next 08:00 local if it falls outside 08:00-21:00: nobody calls at night."""
    hour = local_hour(ts)
    morning = ts - (ts + LOCAL) % DAY + 8 * HOUR
    return np.where(hour < 8, morning, np.where(hour >= 21, morning + DAY, ts))


def exception_clerks(world: World, idx: I64) -> npt.NDArray[np.int32]:
    """The station clerk on duty who records the exception of each waybill in ``idx``, or -1."""
    w = world.waybills
    return on_duty(world.staff, world.by_role_site, role_code("station_clerk"), w.dest[idx],
                   local_day(world.config, w.exception_at[idx]), idx)  # fmt: skip


EARLY_TICKET_SHARE = 0.005
"""Ticket reveals made a moment before the agent has saved the ticket: honest noise, denied."""
TYPO_SHARE = 0.003
"""Ticket reveals of a mistyped waybill number (another parcel), denied, then retyped."""


def tickets(world: World, rng: np.random.Generator) -> dict[str, npt.NDArray[np.generic]]:
    """Customer-service cases on a few percent of waybills, with their agents.

    A ticket goes to an agent employed on the day it opens (the queue hands it on otherwise).
    """
    w = world.waybills
    n = w.created.size
    idx = np.flatnonzero(rng.random(n) < 0.03)
    opened = w.created[idx] + rng.integers(6 * HOUR, 5 * DAY, idx.size)
    centre = world.staff.site[_all(world, "cs_agent")]
    site = np.full(idx.size, centre[0] if centre.size else 0, dtype=np.int64)
    agent = on_duty(world.staff, world.by_role_site, role_code("cs_agent"), site,
                    local_day(world.config, opened), rng.integers(0, 1 << 30, idx.size))  # fmt: skip
    closed = opened + rng.integers(1 * HOUR, 48 * HOUR, idx.size)
    still_open = rng.random(idx.size) < 0.1
    kind = rng.choice(len(TICKET_KINDS), idx.size, p=[0.3, 0.15, 0.1, 0.35, 0.1]).astype(np.int8)
    staffed = agent >= 0
    return {"waybill": idx[staffed], "agent": agent[staffed], "opened": opened[staffed],
            "closed": closed[staffed], "open": still_open[staffed], "kind": kind[staffed]}  # fmt: skip


def ticket_reveals(world: World, cases: dict[str, npt.NDArray[np.generic]], log: AccessLog,
                   rng: np.random.Generator) -> None:  # fmt: skip
    """The agent opens the ticket when she takes the call, then searches and reveals within it.

    Noise: a few in a thousand reveals come a moment before the ticket is saved, and a few
    are of a mistyped number (another parcel), retyped at once; both are denied.
    """
    opened = cases["opened"].astype(np.int64)
    agent, waybill = cases["agent"], cases["waybill"].astype(np.int64)
    ts = opened + rng.integers(1 * MINUTE, 60 * MINUTE, opened.size)
    early = rng.random(opened.size) < EARLY_TICKET_SHARE
    ts[early] = opened[early] - rng.integers(30 * US, 3 * MINUTE, int(early.sum()))
    log.add(ts - 30 * US, agent, "search", waybill=waybill, purpose="customer_service")
    log.add(ts, agent, "reveal", waybill=waybill, field="phone", purpose="customer_service",
            reason="ticket")  # fmt: skip
    name = rng.random(opened.size) < 0.3
    log.add(ts[name] + 30 * US, agent[name], "reveal", waybill=waybill[name], field="name",
            purpose="customer_service", reason="ticket")  # fmt: skip
    typo = np.flatnonzero(rng.random(opened.size) < TYPO_SHARE)
    other = (waybill[typo] + rng.integers(1, 1_000, typo.size)) % world.waybills.created.size
    log.add(ts[typo] - 20 * US, agent[typo], "reveal", waybill=other, field="phone",
            purpose="customer_service", decision="deny", reason="not_permitted")  # fmt: skip


def _investigations(world: World, log: AccessLog, rng: np.random.Generator) -> None:
    """Security officers look into a few waybills a week under investigation."""
    officers = _all(world, "security_officer")
    w = world.waybills
    count = max(1, officers.size * world.config.days // 2)
    who = officers[rng.integers(0, officers.size, count)]
    target = rng.integers(0, w.created.size, count)
    ts = w.arrive[target] + rng.integers(1 * HOUR, 3 * DAY, count)
    log.add(ts, who, "reveal", waybill=target, field="phone", purpose="investigation",
            reason="investigation")  # fmt: skip


def _all(world: World, role: str) -> npt.NDArray[np.int32]:
    return np.flatnonzero(world.staff.role == role_code(role)).astype(np.int32)


def _members_at(world: World, role: str, site: npt.NDArray[np.int32], key: I64,
                rng: np.random.Generator) -> npt.NDArray[np.int32]:  # fmt: skip
    out = np.full(site.size, -1, dtype=np.int32)
    for s in np.unique(site):
        members = world.by_role_site.get((role_code(role), int(s)))
        if members is not None:
            mask = site == s
            out[mask] = members[key[mask] % members.size]
    del rng
    return out


def local_hour(ts: I64) -> I64:
    return ((ts + LOCAL) % (24 * HOUR)) // HOUR
