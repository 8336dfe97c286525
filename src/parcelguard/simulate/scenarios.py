"""Insider scenarios: small parameterised classes that add malicious work and its truth.

Each scenario picks its accounts from the world, adds events through the same
:class:`AccessLog` honest work uses, and returns the ground truth: who, which scenario, first
and last malicious access. Parameters (rate, duration, targeting, hours) are drawn per world
from ranges, so a detector cannot learn one fixed shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from parcelguard.events.schema import CATEGORIES
from parcelguard.simulate.activity import CHANNELS, AccessLog, code
from parcelguard.simulate.world import DAY, HOUR, I64, LOCAL, MINUTE, World, role_code

I32 = npt.NDArray[np.int32]


@dataclass(frozen=True, slots=True)
class Label:
    employee: int
    scenario: str
    started: int
    ended: int


@dataclass(slots=True)
class Injected:
    labels: list[Label]
    # Extra customer-service tickets (fake ones): waybill, agent, opened, closed, kind.
    tickets: list[tuple[int, int, int, int, int]]


class Scenario:
    name = "scenario"

    def inject(self, world: World, log: AccessLog, rng: np.random.Generator) -> Injected:
        raise NotImplementedError


# -- helpers shared by scenarios ---------------------------------------------------------------


def steady(world: World, role: str, rng: np.random.Generator, taken: set[int]) -> int:
    """An account of ``role`` employed for the whole period and not used by another scenario."""
    s = world.staff
    ok = (s.role == role_code(role)) & (s.hired_day <= 0) & (s.left_day < 0)
    candidates = [int(i) for i in np.flatnonzero(ok) if int(i) not in taken]
    if not candidates:
        raise ValueError(f"the world has no spare {role}; simulate more employees")
    chosen = candidates[int(rng.integers(0, len(candidates)))]
    taken.add(chosen)
    return chosen


def day_times(world: World, days: npt.ArrayLike, counts: npt.ArrayLike, hours: tuple[float, float],
              rng: np.random.Generator) -> I64:  # fmt: skip
    """``counts[i]`` times on day ``days[i]`` between local ``hours``, sorted."""
    day = np.repeat(np.asarray(days, dtype=np.int64), np.asarray(counts, dtype=np.int64))
    lo, hi = int(hours[0] * HOUR), int(hours[1] * HOUR)
    ts = world.config.start_us + day * DAY + rng.integers(lo, hi, day.size)
    return np.sort(ts)


def fresh(world: World, ts: I64, max_age: int, rng: np.random.Generator,
          categories: tuple[str, ...] | None = None, sender: int | None = None) -> I64:  # fmt: skip
    """For each time, a waybill created within ``max_age`` before it (optionally targeted)."""
    w = world.waybills
    pool = np.arange(w.created.size)
    if categories is not None:
        wanted = [CATEGORIES.index(c) for c in categories]
        pool = pool[np.isin(world.senders.category[w.sender], wanted)]
    if sender is not None:
        pool = pool[w.sender[pool] == sender]
    created = w.created[pool]
    hi = np.searchsorted(created, ts, side="right")
    lo = np.searchsorted(created, ts - max_age, side="left")
    has = hi > lo
    pick = lo + (rng.random(ts.size) * np.maximum(hi - lo, 1)).astype(np.int64)
    return np.where(has, pool[np.minimum(pick, pool.size - 1)], -1)


def foreign_numbers(rng: np.random.Generator, n: int) -> npt.NDArray[np.str_]:
    """Other carriers' waybill numbers (SF, JD, YT, ZTO shapes)."""
    kind = rng.integers(0, 4, n)
    digits = rng.integers(10**11, 10**12 - 1, n).astype(str)
    prefix = np.array(["SF", "JD", "YT", "7"])[kind]
    extra = np.array(["1", "00", "4", "5"])[kind]
    return np.char.add(np.char.add(prefix, extra), digits)


def label(employee: int, name: str, *times: I64) -> Label:
    stamps = np.concatenate([t for t in times if t.size])
    return Label(employee, name, int(stamps.min()), int(stamps.max()))


def add_reveals(log: AccessLog, ts: I64, who: int, waybill: I64, *, purpose: str,
                channel: str = "web", field: str = "phone", device: str = "", ip: str = "",
                action: str = "reveal") -> I64:  # fmt: skip
    """Reveals of our waybills (allowed in the legacy regime) and of unknown numbers (denied)."""
    ours = waybill >= 0
    log.add(ts[ours], who, action, waybill=waybill[ours], field=field, purpose=purpose,
            channel=channel, reason="legacy_lookup", device=device, ip=ip)  # fmt: skip
    return ts[ours]


# -- the scenarios ---------------------------------------------------------------------------


@dataclass(slots=True)
class Jingzhou2016(Scenario):
    """The case: a harvester courier, remote revealers with nationwide lookup, a broker."""

    name = "jingzhou-2016"

    def inject(self, world: World, log: AccessLog, rng: np.random.Generator) -> Injected:
        taken = world.insiders
        days = world.config.days
        s = world.senders
        bulk = np.flatnonzero(s.bulk & np.isin(s.category, [CATEGORIES.index("collectibles")]))
        if bulk.size == 0:
            bulk = np.flatnonzero(s.bulk)
        if bulk.size == 0:  # a small world may have no contract sender: take the busiest one
            bulk = np.arange(s.weight.size)
        sender = int(bulk[np.argmax(s.weight[bulk])])
        harvester = _holder_of(world, sender, rng, taken)
        revealer = _remote(world, "warehouse_clerk", harvester, rng, taken)
        broker = steady(world, "security_officer", rng, taken)
        labels: list[Label] = []
        # Day 0-1: the harvester searches the address book for staff with nationwide rights.
        searches = day_times(world, [0, 1], rng.integers(8, 20, 2), (19, 23), rng)
        log.add(searches, harvester, "search", purpose="other", channel="web", reason="directory")
        per_day = int(rng.integers(90, 140))
        active = np.flatnonzero(rng.random(days) < 0.85)
        active = active[active >= 1] if days > 1 else active
        counts = rng.poisson(per_day, active.size)
        ts = day_times(world, active, counts, (13, 17.5), rng)
        waybill = fresh(world, ts, 2 * DAY, rng, sender=sender)
        if rng.random() < 0.5:  # drawn per world: some sellers' sheets are in printing order
            day = (ts - world.config.start_us) // DAY  # ts is sorted, so days come in blocks
            waybill = waybill[np.lexsort((waybill, day))]
        alien = rng.random(ts.size) < rng.uniform(0.02, 0.08)
        numbers = foreign_numbers(rng, int(alien.sum()))
        log.add(ts[alien], revealer, "reveal", foreign=numbers, field="phone", purpose="exception",
                decision="deny", reason="unknown_waybill")  # fmt: skip
        got = add_reveals(log, ts[~alien], revealer, waybill[~alien], purpose="exception")
        labels += [label(harvester, self.name, searches), label(revealer, self.name, got, ts)]
        # The broker recruits a second revealer for other buyers and checks samples himself.
        revealer2 = _remote(world, "cs_agent", broker, rng, taken)
        ts2 = day_times(
            world, active[::2], rng.poisson(per_day // 3, active[::2].size), (9, 12), rng
        )
        got2 = add_reveals(log, ts2, revealer2, fresh(world, ts2, 2 * DAY, rng, ("health", "medicine")),
                           purpose="customer_service")  # fmt: skip
        checks = day_times(world, active[::3], np.full(active[::3].size, 3), (20, 22), rng)
        got3 = add_reveals(log, checks, broker, fresh(world, checks, 2 * DAY, rng, ("health",)),
                           purpose="investigation")  # fmt: skip
        labels += [label(revealer2, self.name, got2), label(broker, self.name, got3)]
        return Injected(labels, [])


@dataclass(slots=True)
class Snooper(Scenario):
    """Looks up a few specific people (neighbours, an ex-partner) again and again."""

    name = "snooper"

    def inject(self, world: World, log: AccessLog, rng: np.random.Generator) -> Injected:
        who = steady(world, "station_clerk", rng, world.insiders)
        w = world.waybills
        home = world.sites.district[world.staff.site[who]]
        near = np.flatnonzero(w.dest_district == home)
        if near.size == 0:
            near = rng.integers(0, w.created.size, 5)
        targets = rng.choice(near, size=min(near.size, int(rng.integers(2, 5))), replace=False)
        days = np.arange(world.config.days)
        counts = rng.integers(1, 4, days.size)
        ts = day_times(world, days, counts, (12, 23), rng)
        waybill = targets[rng.integers(0, targets.size, ts.size)]
        got = add_reveals(log, ts, who, waybill, purpose="other", field="address")
        return Injected([label(who, self.name, got)], [])


@dataclass(slots=True)
class BulkExporter(Scenario):
    """Pulls thousands of records in a few logins."""

    name = "bulk-exporter"

    def inject(self, world: World, log: AccessLog, rng: np.random.Generator) -> Injected:
        who = steady(world, "hq_analyst", rng, world.insiders)
        sessions = rng.choice(world.config.days, size=min(3, world.config.days), replace=False)
        size = int(rng.integers(1_000, 4_000))
        ts = day_times(world, np.sort(sessions), np.full(sessions.size, size // sessions.size),
                       (18, 20), rng)  # fmt: skip
        waybill = fresh(world, ts, 3 * DAY, rng)
        got = add_reveals(log, ts, who, waybill, purpose="other", action="export")
        return Injected([label(who, self.name, got)], [])


@dataclass(slots=True)
class LowAndSlow(Scenario):
    """A dozen unexplained records a day, below any plausible quota."""

    name = "low-and-slow"

    def inject(self, world: World, log: AccessLog, rng: np.random.Generator) -> Injected:
        who = steady(world, "station_manager", rng, world.insiders)
        days = np.arange(world.config.days)
        ts = day_times(world, days, rng.poisson(rng.uniform(8, 15), days.size), (9, 18), rng)
        waybill = fresh(world, ts, 2 * DAY, rng, ("health", "medicine", "collectibles"))
        got = add_reveals(log, ts, who, waybill, purpose="exception")
        return Injected([label(who, self.name, got)], [])


@dataclass(slots=True)
class FakeTickets(Scenario):
    """A customer-service agent opens tickets on waybills to justify her reveals."""

    name = "fake-tickets"

    def inject(self, world: World, log: AccessLog, rng: np.random.Generator) -> Injected:
        who = steady(world, "cs_agent", rng, world.insiders)
        days = np.arange(world.config.days)
        ts = day_times(world, days, rng.poisson(rng.uniform(15, 30), days.size), (9, 17), rng)
        waybill = fresh(world, ts, 2 * DAY, rng, ("health", "medicine"))
        ok = waybill >= 0
        ts, waybill = ts[ok], waybill[ok]
        opened = ts - rng.integers(1 * MINUTE, 5 * MINUTE, ts.size)
        tickets = [
            (int(wb), who, int(o), int(o + HOUR), 4) for wb, o in zip(waybill, opened, strict=True)
        ]
        log.add(ts, who, "reveal", waybill=waybill, field="phone", purpose="customer_service",
                reason="ticket")  # fmt: skip
        return Injected([label(who, self.name, ts)], tickets)


@dataclass(slots=True)
class Departing(Scenario):
    """Harvests in the last days before leaving."""

    name = "departing"

    def inject(self, world: World, log: AccessLog, rng: np.random.Generator) -> Injected:
        who = steady(world, "cs_agent", rng, world.insiders)
        last = world.config.days - 1  # leaves on the period's last day: no logins after it
        world.staff.left_day[who] = last
        window = np.arange(max(0, last - int(rng.integers(3, 7))), last + 1)
        ts = day_times(world, window, rng.poisson(rng.uniform(80, 200), window.size), (10, 19), rng)
        got = add_reveals(log, ts, who, fresh(world, ts, 3 * DAY, rng), purpose="customer_service")
        return Injected([label(who, self.name, got)], [])


@dataclass(slots=True)
class AccountTakeover(Scenario):
    """An honest account used from a new device and network at odd hours."""

    name = "account-takeover"

    def inject(self, world: World, log: AccessLog, rng: np.random.Generator) -> Injected:
        who = steady(world, "cs_agent", rng, world.insiders)
        nights = np.sort(
            rng.choice(world.config.days, size=min(3, world.config.days), replace=False)
        )
        device = f"X{int(rng.integers(10**6, 10**7))}"
        ip = f"203.0.113.{int(rng.integers(2, 250))}"
        logins = day_times(world, nights, np.ones(nights.size, dtype=np.int64), (1, 1.2), rng)
        log.add(logins, who, "login", device=device, ip=ip, reason="ok")
        ts = day_times(world, nights, rng.poisson(60, nights.size), (1.3, 4), rng)
        got = add_reveals(log, ts, who, fresh(world, ts, 2 * DAY, rng), purpose="customer_service",
                          device=device, ip=ip)  # fmt: skip
        return Injected([label(who, self.name, logins, got)], [])


@dataclass(slots=True)
class ForeignProbing(Scenario):
    """Queries of other carriers' waybill numbers."""

    name = "foreign-probing"

    def inject(self, world: World, log: AccessLog, rng: np.random.Generator) -> Injected:
        who = steady(world, "warehouse_clerk", rng, world.insiders)
        days = np.arange(world.config.days)
        ts = day_times(world, days, rng.poisson(rng.uniform(10, 40), days.size), (9, 18), rng)
        log.add(ts, who, "search", foreign=foreign_numbers(rng, ts.size), purpose="other",
                decision="deny", reason="unknown_waybill")  # fmt: skip
        return Injected([label(who, self.name, ts)], [])


@dataclass(slots=True)
class ItBulkDecrypt(Scenario):
    """An IT engineer's script pulls decrypted records every night through the API."""

    name = "it-bulk-decrypt"

    def inject(self, world: World, log: AccessLog, rng: np.random.Generator) -> Injected:
        who = steady(world, "it_engineer", rng, world.insiders)
        days = np.arange(world.config.days)
        ts = day_times(world, days, rng.poisson(rng.uniform(300, 1_500), days.size), (0, 5), rng)
        waybill = fresh(world, ts, 2 * DAY, rng)
        device = f"svc-{int(rng.integers(100, 999))}"
        got = add_reveals(log, ts, who, waybill, purpose="other", channel="api", device=device,
                          action="export")  # fmt: skip
        return Injected([label(who, self.name, got)], [])


SCENARIOS: dict[str, Callable[[], Scenario]] = {
    cls.name: cls
    for cls in (
        Jingzhou2016,
        Snooper,
        BulkExporter,
        LowAndSlow,
        FakeTickets,
        Departing,
        AccountTakeover,
        ForeignProbing,
        ItBulkDecrypt,
    )
}


def _holder_of(world: World, sender: int, rng: np.random.Generator, taken: set[int]) -> int:
    """The courier who picks up most of ``sender``'s parcels: he holds their waybills.

    In the case the harvester was the courier holding a bulk sender's waybills (whose labels
    carried no phone); a courier elsewhere at the station would not have had them.
    """
    w = world.waybills
    theirs = w.pickup_courier[(w.sender == sender) & (w.pickup_courier >= 0)]
    if theirs.size:
        counts = np.bincount(theirs)
        for courier in np.argsort(-counts, kind="stable"):
            if counts[courier] == 0:
                break
            steady_courier = (
                world.staff.hired_day[courier] <= 0 and world.staff.left_day[courier] < 0
            )
            if steady_courier and int(courier) not in taken:
                taken.add(int(courier))
                return int(courier)
    return _courier_at(world, int(world.senders.station[sender]), rng, taken)


def _courier_at(world: World, site: int, rng: np.random.Generator, taken: set[int]) -> int:
    members = world.by_role_site.get((role_code("courier"), site))
    free = [int(m) for m in (members if members is not None else []) if int(m) not in taken]
    chosen = free[int(rng.integers(0, len(free)))] if free else steady(world, "courier", rng, taken)
    taken.add(chosen)
    return chosen


def _remote(
    world: World, role: str, far_from: int, rng: np.random.Generator, taken: set[int]
) -> int:
    """An account of ``role`` in another province than ``far_from``'s site."""
    s, d = world.staff, world.sites.district
    from parcelguard.simulate.reference import districts

    province = districts().adcode.astype("U2")
    home = province[d[s.site[far_from]]]
    for _ in range(50):
        candidate = steady(world, role, rng, taken)
        if province[d[s.site[candidate]]] != home:
            return candidate
        taken.discard(candidate)
    return steady(world, role, rng, taken)


def local_hours(ts: I64) -> I64:
    return ((ts + LOCAL) % DAY) // HOUR


__all__ = ["CHANNELS", "SCENARIOS", "Injected", "Label", "Scenario", "code", "local_hours"]
