"""The carrier: sites, staff, senders, waybills and their workflow, generated vectorised.

Everything is integer arrays indexed by entity (NumPy), so a month at 300,000 waybills a
day is a handful of array operations per table rather than a Python loop per event; the
tables are turned into Arrow only at the end (``tables.py``). One ``numpy.random.Generator``
seeded from the world seed drives every draw, in a fixed order, so the same seed gives the
same world.

Times are int64 microseconds since the Unix epoch (UTC); "local" means Beijing time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from parcelguard.events.schema import CATEGORIES, ROLES, SITE_KINDS
from parcelguard.simulate.reference import districts

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
F64 = npt.NDArray[np.float64]
Str = npt.NDArray[np.str_]

US = 1_000_000
MINUTE = 60 * US
HOUR = 60 * MINUTE
DAY = 24 * HOUR
LOCAL = 8 * HOUR  # Beijing is UTC+08:00 all year

# Shares of the workforce by role (station managers are one per station, set separately).
ROLE_SHARES = {
    "courier": 0.58,
    "station_clerk": 0.12,
    "warehouse_clerk": 0.14,
    "cs_agent": 0.08,
    "security_officer": 0.01,
    "hq_analyst": 0.015,
    "it_engineer": 0.015,
}
CATEGORY_SHARES = (0.06, 0.04, 0.03, 0.25, 0.12, 0.12, 0.05, 0.1, 0.14, 0.04, 0.05)
# Local hour of label printing: little at night, a plateau 9-20 h.
HOURLY = np.array(
    [0.3, 0.2, 0.1, 0.1, 0.1, 0.2, 0.5, 1.5, 3, 6, 7, 7, 6, 6, 7, 7, 7, 6, 5, 4, 3, 2, 1, 0.6]
)
HOURLY = HOURLY / HOURLY.sum()
# Resident population by province, millions (7th national census, 2020): parcels go where
# people live. Taiwan, Hong Kong and Macau are outside this carrier's network.
PROVINCE_POPULATION = {
    "11": 21.89, "12": 13.87, "13": 74.61, "14": 34.92, "15": 24.05, "21": 42.59, "22": 24.07,
    "23": 31.85, "31": 24.87, "32": 84.75, "33": 64.57, "34": 61.03, "35": 41.54, "36": 45.19,
    "37": 101.53, "41": 99.37, "42": 57.75, "43": 66.45, "44": 126.01, "45": 50.13, "46": 10.08,
    "50": 32.05, "51": 83.67, "52": 38.56, "53": 47.21, "54": 3.65, "61": 39.53, "62": 25.02,
    "63": 5.92, "64": 7.20, "65": 25.85,
}  # fmt: skip


def district_weights() -> F64:
    """Probability of each district as a destination: its province's people, shared evenly."""
    d = districts()
    province = d.adcode.astype("U2")
    population = np.array([PROVINCE_POPULATION.get(p, 0.0) for p in province])
    _, inverse, counts = np.unique(province, return_inverse=True, return_counts=True)
    weight = population / counts[inverse]
    return np.asarray(weight / weight.sum(), dtype=np.float64)


def default_peak(days: int) -> tuple[int, ...]:
    """A three-day sales peak (双十一-like) in the middle of worlds of two weeks or more."""
    return tuple(range(days // 2, days // 2 + 3)) if days >= 14 else ()


@dataclass(frozen=True, slots=True)
class WorldConfig:
    seed: int = 2016
    days: int = 7
    employees: int = 2_000
    waybills_per_day: int = 20_000
    start: date = date(2016, 10, 1)
    regime: str = "legacy"
    # Days (from start) of the sales peak at about twice the volume; empty: no peak.
    peak_days: tuple[int, ...] = ()

    @property
    def start_us(self) -> int:
        """Local midnight of the first day, in UTC microseconds."""
        midnight = datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC)
        return int(midnight.timestamp()) * US - LOCAL

    def day_volumes(self) -> I64:
        volumes = np.full(self.days, self.waybills_per_day, dtype=np.int64)
        weekday = (np.arange(self.days) + self.start.weekday()) % 7
        volumes = (volumes * np.where(weekday >= 5, 0.85, 1.0)).astype(np.int64)
        peak = [d for d in self.peak_days if 0 <= d < self.days]
        volumes[peak] *= 2
        return volumes


@dataclass(slots=True)
class Sites:
    kind: I32  # index into SITE_KINDS
    district: I32  # index into reference.districts()
    ids: Str


@dataclass(slots=True)
class Staff:
    role: I32  # index into ROLES
    site: I32
    hired_day: I64  # day offset from start (negative: before the period)
    left_day: I64  # day offset of the last working day, or -1 if still employed
    ids: Str


@dataclass(slots=True)
class Senders:
    category: I32
    bulk: npt.NDArray[np.bool_]
    station: I32  # pickup station (site index)
    weight: F64
    ids: Str


@dataclass(slots=True)
class Waybills:
    created: I64
    sender: I32
    origin: I32  # site index
    dest: I32  # delivering station, site index
    dest_district: I32
    hub_in: I32
    hub_out: I32
    pickup: I64
    arrive: I64  # arrival at the delivering station
    dispatch: I64
    deliver: I64
    pickup_courier: I32  # staff index
    courier: I32  # the courier who takes it out for delivery (dispatch, deliver), staff index
    route_courier: I32  # the courier whose route it is, who holds it from arrival, staff index
    handover: I64  # when it was reassigned (改派) from route_courier to courier, or -1
    exception: npt.NDArray[np.bool_]
    exception_at: I64  # when the exception was recorded at the delivering station (if any)
    returned: npt.NDArray[np.bool_]
    serial_base: int

    def numbers(self, index: npt.NDArray[np.generic]) -> pa.Array:
        """Waybill numbers (``PG`` + 12 digits) of ``index``, made only when written.

        Holding nine million numbers as NumPy text would cost half a gigabyte; the serial is
        enough until a table is written.
        """
        serial = pa.array(self.serial_base + np.asarray(index, dtype=np.int64)).cast(pa.string())
        return pc.binary_join_element_wise("PG", pc.utf8_lpad(serial, 12, "0"), "")


@dataclass(slots=True)
class World:
    config: WorldConfig
    sites: Sites
    staff: Staff
    senders: Senders
    waybills: Waybills
    by_role_site: dict[tuple[int, int], I32]
    # Accounts given to an insider scenario (one account, one scenario).
    insiders: set[int] = field(default_factory=set)


def build_world(config: WorldConfig, rng: np.random.Generator) -> World:
    sites = _sites(config, rng)
    staff = _staff(config, sites, rng)
    senders = _senders(config, sites, rng)
    index = _index_staff(staff)
    waybills = _waybills(config, sites, staff, senders, index, rng)
    return World(config, sites, staff, senders, waybills, index)


def role_code(name: str) -> int:
    return ROLES.index(name)


def local_day(config: WorldConfig, ts: npt.ArrayLike) -> I64:
    """Day offset from the start (local calendar) of each time: the payroll's day."""
    return np.asarray((np.asarray(ts, dtype=np.int64) - config.start_us) // DAY, dtype=np.int64)


def employed(staff: Staff, who: npt.ArrayLike, day: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Whether each employee is on the payroll on that day (``who`` -1 is nobody)."""
    who = np.asarray(who, dtype=np.int64)
    day = np.asarray(day, dtype=np.int64)
    safe = np.maximum(who, 0)
    on = (who >= 0) & (staff.hired_day[safe] <= day)
    left = staff.left_day[safe]
    return np.asarray(on & ((left < 0) | (day <= left)), dtype=np.bool_)


def on_duty(
    staff: Staff,
    index: dict[tuple[int, int], I32],
    role: int,
    site: npt.ArrayLike,
    day: npt.ArrayLike,
    key: npt.ArrayLike,
    *,
    through: npt.ArrayLike | None = None,
    exclude: npt.ArrayLike = -1,
) -> I32:
    """A member of ``role`` at each ``site`` employed on ``day``, stable for equal ``key``; -1: none.

    Why: work goes to people who are on the payroll that day. A route, a sender or a ticket
    queue keeps its person (the member the key points at) while that person is employed; on
    the days they are not (hired later, gone already) the work falls to the next colleague of
    the site in a fixed order, as a dispatcher would hand it on. ``through`` (a later day)
    asks for someone employed from ``day`` to that day, for work that spans midnight;
    ``exclude`` skips one person per item (a courier cannot cover his own route).
    """
    site = np.asarray(site, dtype=np.int64)
    day = np.broadcast_to(np.asarray(day, dtype=np.int64), site.shape)
    last = day if through is None else np.broadcast_to(np.asarray(through, np.int64), site.shape)
    key = np.broadcast_to(np.asarray(key, dtype=np.int64), site.shape)
    exclude = np.broadcast_to(np.asarray(exclude, dtype=np.int64), site.shape)
    out = np.full(site.size, -1, dtype=np.int32)
    groups = {s: m for (r, s), m in index.items() if r == role}
    if not groups or site.size == 0:
        return out
    width = max(m.size for m in groups.values())
    sites = max(*groups, int(site.max())) + 1
    table = np.full((sites, width), -1, dtype=np.int32)
    count = np.zeros(sites, dtype=np.int64)
    for s, members in groups.items():
        table[s, : members.size] = members
        count[s] = members.size
    size = count[site]
    start = (key * 2_654_435_761) % np.maximum(size, 1)
    todo = np.flatnonzero(size > 0)
    for step in range(width):
        if todo.size == 0:
            break
        position = (start[todo] + step) % size[todo]
        candidate = table[site[todo], position]
        ok = (step < size[todo]) & (candidate != exclude[todo])
        ok &= employed(staff, candidate, day[todo]) & employed(staff, candidate, last[todo])
        out[todo[ok]] = candidate[ok]
        todo = todo[~ok & (step + 1 < size[todo])]
    return out


def _sites(config: WorldConfig, rng: np.random.Generator) -> Sites:
    d = districts()
    stations = max(4, round(config.employees * 0.06))
    warehouses = max(2, stations // 6)
    hubs = max(2, min(30, stations // 12))
    counts = (stations, warehouses, hubs, 1, 1)
    kind = np.repeat(np.arange(len(SITE_KINDS), dtype=np.int32), counts)
    # Stations spread over districts weighted towards populous provinces; the others anywhere.
    district = rng.choice(len(d.adcode), size=kind.size, p=district_weights()).astype(np.int32)
    prefix = np.array(["ST", "WH", "HB", "CS", "OF"])[kind]
    serial = np.concatenate([np.arange(1, c + 1) for c in counts])
    ids = np.char.add(prefix, np.char.zfill(serial.astype(str), 4))
    return Sites(kind=kind, district=district, ids=ids)


def _staff(config: WorldConfig, sites: Sites, rng: np.random.Generator) -> Staff:
    stations = np.flatnonzero(sites.kind == 0).astype(np.int32)
    warehouses = np.flatnonzero(sites.kind == 1).astype(np.int32)
    hubs = np.flatnonzero(sites.kind == 2).astype(np.int32)
    cs_center = np.flatnonzero(sites.kind == 3).astype(np.int32)
    office = np.flatnonzero(sites.kind == 4).astype(np.int32)
    roles: list[I32] = []
    homes: list[I32] = []
    managers = stations.size
    rest = max(config.employees - managers, 8)
    shares = np.array(list(ROLE_SHARES.values()))
    per_role = np.maximum(np.floor(shares / shares.sum() * rest).astype(np.int64), 1)
    per_role[0] += rest - per_role.sum()
    for name, count in zip(ROLE_SHARES, per_role, strict=True):
        code = role_code(name)
        roles.append(np.full(count, code, dtype=np.int32))
        if name in {"courier", "station_clerk"}:
            homes.append(stations[np.arange(count) % stations.size])
        elif name == "warehouse_clerk":  # warehouses and the sorting hubs
            sheds = np.concatenate([warehouses, hubs])
            homes.append(sheds[np.arange(count) % sheds.size])
        elif name == "cs_agent":
            homes.append(np.repeat(cs_center, count))
        else:
            homes.append(np.repeat(office, count))
    roles.append(np.full(managers, role_code("station_manager"), dtype=np.int32))
    homes.append(stations)
    role = np.concatenate(roles)
    site = np.concatenate(homes).astype(np.int32)
    n = role.size
    hired = -rng.integers(30, 3_000, size=n)
    # About 2 % join during the period and 2 % leave (last working day inside it).
    joiners = rng.random(n) < 0.02
    hired[joiners] = rng.integers(1, max(config.days, 2), size=int(joiners.sum()))
    left = np.full(n, -1, dtype=np.int64)
    leavers = (rng.random(n) < 0.02) & ~joiners
    left[leavers] = rng.integers(0, max(config.days - 1, 1), size=int(leavers.sum()))
    ids = np.char.add("E", np.char.zfill(np.arange(1, n + 1).astype(str), 6))
    return Staff(role=role, site=site, hired_day=hired, left_day=left, ids=ids)


def _senders(config: WorldConfig, sites: Sites, rng: np.random.Generator) -> Senders:
    n = max(50, config.waybills_per_day // 150)
    category = rng.choice(len(CATEGORIES), size=n, p=CATEGORY_SHARES).astype(np.int32)
    bulky = np.isin(category, [CATEGORIES.index(c) for c in ("collectibles", "health")])
    bulk = rng.random(n) < np.where(bulky, 0.35, 0.08)
    stations = np.flatnonzero(sites.kind == 0).astype(np.int32)
    station = stations[rng.integers(0, stations.size, size=n)]
    # A few senders ship most parcels (Zipf-like), bulk senders more than the rest.
    weight = (
        (1.0 / np.arange(1, n + 1) ** 0.9)[rng.permutation(n)] * np.where(bulk, 3.0, 1.0)
    ).astype(np.float64)
    ids = np.char.add("S", np.char.zfill(np.arange(1, n + 1).astype(str), 5))
    return Senders(category=category, bulk=bulk, station=station, weight=weight, ids=ids)


def _index_staff(staff: Staff) -> dict[tuple[int, int], I32]:
    """Staff indices by (role, site), sorted: who can do what where."""
    order = np.lexsort((staff.site, staff.role))
    keys = staff.role[order].astype(np.int64) * 1_000_000 + staff.site[order]
    bounds = np.flatnonzero(np.diff(keys)) + 1
    groups = np.split(order.astype(np.int32), bounds)
    return {(int(staff.role[g[0]]), int(staff.site[g[0]])): g for g in groups if g.size}


def _waybills(
    config: WorldConfig,
    sites: Sites,
    staff: Staff,
    senders: Senders,
    index: dict[tuple[int, int], I32],
    rng: np.random.Generator,
) -> Waybills:
    volumes = config.day_volumes()
    n = int(volumes.sum())
    day = np.repeat(np.arange(config.days, dtype=np.int64), volumes)
    hour = rng.choice(24, size=n, p=HOURLY)
    created = config.start_us + day * DAY + hour * HOUR + rng.integers(0, HOUR, size=n)
    order = np.argsort(created, kind="stable")
    created = created[order]
    sender_p = senders.weight / senders.weight.sum()
    sender: I32 = rng.choice(senders.ids.size, size=n, p=sender_p).astype(np.int32)
    origin = senders.station[sender]
    d = districts()
    dest_district = rng.choice(d.adcode.size, size=n, p=district_weights()).astype(np.int32)
    stations = np.flatnonzero(sites.kind == 0).astype(np.int32)
    dest = stations[_nearest(d.lon, d.lat, sites, stations)[dest_district]]
    hubs = np.flatnonzero(sites.kind == 2).astype(np.int32)
    hub_of_station = _nearest_site(sites, stations, hubs)
    hub_in = hub_of_station[origin]
    hub_out = hub_of_station[dest]
    pickup = created + rng.integers(30 * MINUTE, 6 * HOUR, size=n)
    transit_days = rng.choice(4, size=n, p=[0.3, 0.4, 0.2, 0.1]) + 1
    arrive = pickup + transit_days * DAY - rng.integers(10 * HOUR, 20 * HOUR, size=n)
    arrive = np.maximum(arrive, pickup + 3 * HOUR)
    dispatch = _next_local_hour(arrive, 8) + rng.integers(0, 2 * HOUR, size=n)
    deliver = dispatch + rng.integers(20 * MINUTE, 8 * HOUR, size=n)
    courier_code = role_code("courier")
    # A sender keeps its pickup courier and a route (districts of a station) its delivering
    # courier, so assignments repeat; on days that courier is not employed, a colleague.
    pickup_courier = on_duty(staff, index, courier_code, origin, local_day(config, created),
                             sender, through=local_day(config, pickup))  # fmt: skip
    route_courier = on_duty(staff, index, courier_code, dest, local_day(config, arrive),
                            dest_district, through=local_day(config, dispatch))  # fmt: skip
    exception = rng.random(n) < 0.02
    returned = exception & (rng.random(n) < 0.25)
    serial_base = int(rng.integers(10**11, 9 * 10**11))
    courier, handover = _cover_routes(
        config, staff, index, dest, arrive, dispatch, route_courier, rng
    )
    # An exception (damaged label, incomplete address) is found between arrival and the
    # morning's dispatch, so the clerk can work it before the parcel goes out.
    exception_at = arrive + np.maximum((dispatch - arrive) // 4, MINUTE)
    return Waybills(
        created=created,
        sender=sender,
        origin=origin,
        dest=dest,
        dest_district=dest_district,
        hub_in=hub_in,
        hub_out=hub_out,
        pickup=pickup,
        arrive=arrive,
        dispatch=dispatch,
        deliver=deliver,
        pickup_courier=pickup_courier,
        courier=courier,
        route_courier=route_courier,
        handover=handover,
        exception=exception,
        exception_at=exception_at,
        returned=returned,
        serial_base=serial_base,
    )


COVER_SHARE = 0.04
"""Courier-days on which a colleague of the same station takes the route (sick, day off)."""


def _cover_routes(
    config: WorldConfig,
    staff: Staff,
    index: dict[tuple[int, int], I32],
    dest: I32,
    arrive: I64,
    dispatch: I64,
    route_courier: I32,
    rng: np.random.Generator,
) -> tuple[I32, I64]:
    """Who takes each parcel out, and when the dispatch system reassigned it (改派), or -1.

    Why model it in the workflow: a courier does not cover a colleague's route by opening his
    parcels on the handheld; the station reassigns the route's parcels to him at the morning
    handover, before dispatch, so the covering is an assignment like any other. On a covered
    courier-day every parcel of the route dispatched that day is reassigned at the handover
    (07:00-08:00 local), or at its arrival if it arrives later; the route's courier holds it
    until then.
    """
    day = local_day(config, dispatch)
    days = int(day.max()) + 1 if day.size else 1
    covered = rng.random((staff.role.size, days)) < COVER_SHARE
    handover_at = config.start_us + np.arange(days) * DAY + 7 * HOUR
    handover_at = handover_at + rng.integers(0, HOUR, days)
    courier = route_courier.copy()
    handover = np.full(dest.size, -1, dtype=np.int64)
    held = route_courier >= 0
    hit = np.flatnonzero(held)[covered[route_courier[held], day[held]]]
    if hit.size:
        owner = route_courier[hit]
        colleague = on_duty(staff, index, role_code("courier"), dest[hit], day[hit],
                            owner.astype(np.int64) * 7_919 + day[hit], exclude=owner)  # fmt: skip
        ok = colleague >= 0
        hit, colleague = hit[ok], colleague[ok]
        courier[hit] = colleague
        # A parcel that arrives after the handover goes to the colleague on arrival.
        handover[hit] = np.maximum(np.minimum(handover_at[day[hit]], dispatch[hit]), arrive[hit])
    return courier, handover


def _nearest(lon: F64, lat: F64, sites: Sites, candidates: I32) -> I32:
    """For each district, the position in ``candidates`` of the nearest site (flat metric)."""
    d = districts()
    site_lon, site_lat = d.lon[sites.district[candidates]], d.lat[sites.district[candidates]]
    best = np.empty(lon.size, dtype=np.int32)
    for start in range(0, lon.size, 512):  # bounded memory: 512 x sites distances at a time
        dx = lon[start : start + 512, None] - site_lon[None, :]
        dy = lat[start : start + 512, None] - site_lat[None, :]
        best[start : start + 512] = np.argmin(dx * dx + dy * dy, axis=1)
    return best


def _nearest_site(sites: Sites, sources: I32, targets: I32) -> I32:
    """Map every site index in ``sources`` to its nearest site among ``targets``."""
    d = districts()
    result = np.full(sites.kind.size, -1, dtype=np.int32)
    src = sites.district[sources]
    position = _nearest(d.lon[src], d.lat[src], sites, targets)
    result[sources] = targets[position]
    return result


def _next_local_hour(moment: I64, hour: int) -> I64:
    """The next local ``hour``:00 at or after ``moment``."""
    local = moment + LOCAL
    day_start = local - local % DAY
    candidate = day_start + hour * HOUR
    candidate = np.where(candidate < local, candidate + DAY, candidate)
    return candidate - LOCAL
