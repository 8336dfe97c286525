"""Canary records (honeytokens): synthetic recipients planted where only one slice can see them.

A canary is a waybill with a made-up recipient, put in the vault through its normal put path
(encrypted, blind-indexed, masked like any other), and recorded in the ``canaries`` table
with the slice it is reachable through. When a leaked file holds a canary's phone, matching
finds it like any recipient and reports it apart (``forensics.match``), and the slice says
where the file came from even when the audit log shows nobody revealing it: a dump of the
station's screen, a sender's own system, or a database copy leave no reveal in the log.

What each slice makes reachable, under the default policies (``reveal/policies``):

* ``station`` S: the parcel is held at S (``parcel_status.current_site_id`` = S, last
  scanned when planted, never dispatched) with an open exception there (a 问题件 waiting at
  the counter). Station clerks and managers of S may then call the recipient through a
  virtual number (``station-clerk-open-exception``), warehouse clerks of S see the masked
  form (``warehouse-clerk-parcel-on-site``), break-glass investigators see plaintext. No
  courier is ever assigned it and no ticket names it, so nobody else's workflow reaches it.
  Under the legacy rights the case exploited, S's station clerks saw it in plaintext too,
  and so did every office role with nationwide lookup: a station canary in a leak with an
  empty log is the signature of a breach outside the door (a dump, a screen, a key).
* ``sender`` X: the canary is one of X's waybills (X's sender id and category, X's usual
  origin station and a destination X ships to) that was never scanned anywhere: no site has
  it, no courier holds it, no ticket names it. Only X's own bulk list, the sender-file
  upload path and break-glass (or legacy nationwide lookup) reach it, so a sender canary
  in a leak points at the sender's channel: in the 2016 case, the harvester held exactly
  such a sender's waybill numbers.

How canaries stay out of the real world:

* never delivered: no assignment, no dispatch time, no delivery; the parcel exists only as
  data. The carrier's dispatch and work-queue systems, which ParcelGuard does not run, must
  skip waybills listed in ``canaries`` (listed in docs/leak-attribution.md);
* never a real person: the phones come from a number range the carrier controls,
  ``PARCELGUARD_CANARY_PREFIXES`` (default ``1708``: a block of the carrier's own 170 MVNO
  range, set aside from the virtual-number pool, whose own examples and demo draw from
  ``1709``). Each canary prefix must lie strictly inside one of the virtual-number ranges
  (``PARCELGUARD_VNUM_PREFIXES``): outside them a number may be a subscriber's, and a prefix
  that covers a whole range would leave the pool nothing. ``vnum provision`` refuses numbers
  of the canary block and draws around it; planting still refuses any number that is in the
  pool (one provisioned before the block was set aside) or already in the vault. A call to
  a canary reaches the carrier's telephony, never a subscriber;
* never counted as real: ``match`` reports canary hits separately and leaves them out of
  every figure and share; the other places that count waybills are listed in the doc.

Canary waybill numbers are drawn at random from the carrier's number space (the prefix of
the store's numbers plus random digits, checked against the waybill pattern and the store),
not next to the newest serial: a run of numbers beside real ones would collide with parcels
issued later. The carrier's number issuer must treat numbers in ``canaries`` as taken.
Canaries are created "now" and shredded with their day like any waybill, so plant new ones
as old ones age out: fresh records are what sells, and an old canary would not be bait.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import sqlalchemy as sa

from parcelguard.core.errors import BadInput
from parcelguard.core.masking import mask_phone
from parcelguard.core.phone import normalise_cn_mobile
from parcelguard.core.waybill import NewWaybill
from parcelguard.storage import begin_write
from parcelguard.storage.bulk import datetime_stamp, driver_rows, insert_rows, insert_sql, marker
from parcelguard.storage.schema import canaries, parcel_exceptions, parcel_status
from parcelguard.vault import Vault
from parcelguard.vnum.config import VnumConfig
from parcelguard.vnum.numbers import InvalidVirtualNumber, check_prefixes

SLICE_KINDS = ("station", "sender")
DEFAULT_PREFIXES: tuple[str, ...] = ("1708",)
MAX_COUNT = 1_000


@dataclass(frozen=True, slots=True)
class CanaryConfig:
    """Where canary phones come from: ranges the carrier controls (``PARCELGUARD_CANARY_PREFIXES``)."""

    prefixes: tuple[str, ...] = DEFAULT_PREFIXES

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CanaryConfig:
        """The configured blocks, each checked against the virtual-number ranges it sits in."""
        env = os.environ if env is None else env
        prefixes = canary_prefixes(env)
        problem = range_problem(prefixes, VnumConfig.from_env(env).prefixes)
        if problem:
            raise BadInput(f"PARCELGUARD_CANARY_PREFIXES: {problem}")
        return cls(prefixes=prefixes)


def canary_prefixes(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The configured blocks, shape-checked only: what ``vnum provision`` must keep out.

    Apart from :meth:`CanaryConfig.from_env` because provisioning has to keep the blocks
    out of the pool whatever the virtual-number ranges are; where the blocks may sit is
    checked when canaries are planted.
    """
    env = os.environ if env is None else env
    raw = env.get("PARCELGUARD_CANARY_PREFIXES") or ",".join(DEFAULT_PREFIXES)
    try:
        prefixes = check_prefixes([p.strip() for p in raw.split(",") if p.strip()])
    except InvalidVirtualNumber as exc:
        raise BadInput(f"PARCELGUARD_CANARY_PREFIXES: {exc}") from None
    for prefix in prefixes:
        try:
            normalise_cn_mobile(prefix.ljust(11, "0"))
        except ValueError:
            raise BadInput(
                f"PARCELGUARD_CANARY_PREFIXES: {prefix} is not in a mobile segment (13x-19x)"
            ) from None
    return prefixes


def range_problem(canary: Sequence[str], vnum: Sequence[str]) -> str | None:
    """Why the canary blocks cannot sit in the virtual-number ranges ``vnum``, or None.

    A block must lie strictly inside a range: outside every range its numbers are not the
    carrier's and may be a subscriber's (a canary must never be a real person), and a block
    that covers a whole range (``170`` for the range ``170``) leaves the pool nothing.
    """
    for prefix in canary:
        covered = [v for v in vnum if v.startswith(prefix)]
        if covered:
            return (
                f"{prefix} covers the whole virtual-number range {covered[0]} "
                "(PARCELGUARD_VNUM_PREFIXES); set aside a block inside it, like 1708"
            )
        if not prefix.startswith(tuple(vnum)):
            return (
                f"{prefix} is outside the virtual-number ranges ({', '.join(vnum)}, "
                "PARCELGUARD_VNUM_PREFIXES): give a block of a range the carrier controls"
            )
    return None


@dataclass(frozen=True, slots=True)
class Canary:
    waybill_no: str
    slice_kind: str
    slice_value: str
    planted_at: datetime
    status: str = "live"  # live, shredded, missing (the put never happened)

    def as_dict(self) -> dict[str, object]:
        return {
            "waybill_no": self.waybill_no,
            "slice_kind": self.slice_kind,
            "slice_value": self.slice_value,
            "planted_at": self.planted_at.isoformat(),
            "status": self.status,
        }


@dataclass(frozen=True, slots=True)
class PlantResult:
    planted: tuple[Canary, ...]
    phones_masked: tuple[str, ...]
    # The canary phones themselves: bait, not anyone's data, but kept out of outputs all the
    # same, so that a printed result does not tell its reader which numbers are bait.
    phones: tuple[str, ...] = field(default=(), repr=False)

    def as_dict(self) -> dict[str, object]:
        return {
            "planted": len(self.planted),
            "canaries": [
                {**canary.as_dict(), "phone_masked": masked}
                for canary, masked in zip(self.planted, self.phones_masked, strict=True)
            ],
        }


@dataclass(frozen=True, slots=True)
class _Template:
    """What a canary copies from the slice so that it looks like the slice's real parcels."""

    sender_id: str
    category: str
    origin_site_id: str
    dest_site_id: str
    dest_adcode: str


def plant(
    vault: Vault,
    kind: str,
    value: str,
    count: int,
    *,
    now: datetime,
    waybill_pattern: str,
    config: CanaryConfig | None = None,
    seed: int | None = None,
) -> PlantResult:
    """Plant ``count`` canaries in the slice ``kind`` = ``value``; all or nothing."""
    config = config or CanaryConfig()
    if kind not in SLICE_KINDS:
        raise BadInput(f"slice {kind!r}: choose one of {', '.join(SLICE_KINDS)}")
    if not 1 <= count <= MAX_COUNT:
        raise BadInput(f"--count {count}: plant 1 to {MAX_COUNT} canaries at a time")
    if now.tzinfo is None:
        raise BadInput("now: give a time zone")
    rng = np.random.default_rng(seed)
    engine = vault.engine
    with engine.connect() as conn:
        template = _template(conn, kind, value)
        numbers = _waybill_numbers(conn, rng, count, waybill_pattern)
        phones = _phones(conn, vault, rng, count, config.prefixes)
    recipients = _recipients(rng, template.dest_adcode, count)
    waybills = [
        NewWaybill(
            waybill_no=number,
            sender_id=template.sender_id,
            category=template.category,
            created_at=now,
            origin_site_id=template.origin_site_id,
            dest_site_id=template.dest_site_id,
            dest_adcode=template.dest_adcode,
            recipient_name=name,
            recipient_phone=phone,
            recipient_address=address,
        )
        for number, phone, (name, address) in zip(numbers, phones, recipients, strict=True)
    ]
    # The intent first (canary rows and the station's workflow), then the vault's own put;
    # a failed put takes the rows back, so a canary is never a bare "real" parcel.
    with begin_write(engine) as conn:
        stamp = datetime_stamp(conn)
        insert_rows(
            conn,
            insert_sql(conn, canaries, ("waybill_no", "slice_kind", "slice_value", "planted_at")),
            [(n, kind, value, stamp(now)) for n in numbers],
        )
        if kind == "station":
            insert_rows(
                conn,
                insert_sql(
                    conn,
                    parcel_status,
                    (
                        "waybill_no",
                        "current_site_id",
                        "last_scan_at",
                        "dispatched_at",
                        "delivered_at",
                    ),
                ),
                [(n, value, stamp(now), None, None) for n in numbers],
            )
            insert_rows(
                conn,
                insert_sql(
                    conn, parcel_exceptions, ("waybill_no", "site_id", "opened_at", "closed_at")
                ),
                [(n, value, stamp(now), None) for n in numbers],
            )
    try:
        vault.put(waybills)
    except BaseException:
        _forget(engine, numbers)
        raise
    planted = tuple(Canary(n, kind, value, now) for n in numbers)
    return PlantResult(planted, tuple(mask_phone(p) for p in phones), tuple(phones))


def list_canaries(engine: sa.Engine) -> list[Canary]:
    """Every canary with its state: live, shredded (its day's key destroyed) or missing."""
    with engine.connect() as conn:
        rows = driver_rows(
            conn,
            "SELECT c.waybill_no, c.slice_kind, c.slice_value, c.planted_at, w.waybill_no, "
            "w.shredded_at FROM canaries c LEFT JOIN waybills w ON w.waybill_no = c.waybill_no "
            "ORDER BY c.planted_at, c.waybill_no",
        )
    from parcelguard.storage.bulk import stored_moment

    found = []
    for number, kind, value, planted, stored, shredded in rows:
        moment = stored_moment(planted)
        assert moment is not None  # NOT NULL in the schema
        status = "missing" if stored is None else "shredded" if shredded is not None else "live"
        found.append(Canary(str(number), str(kind), str(value), moment, status))
    return found


def canary_waybills(conn: sa.Connection) -> set[str]:
    """The waybill numbers that are canaries, for anything that counts real parcels."""
    return {str(row[0]) for row in driver_rows(conn, "SELECT waybill_no FROM canaries")}


# -- helpers ----------------------------------------------------------------------------------


def _template(conn: sa.Connection, kind: str, value: str) -> _Template:
    mark = marker(conn)
    if kind == "station":
        site = driver_rows(
            conn,
            f"SELECT kind, adcode FROM sites WHERE site_id = {mark}",  # noqa: S608 (a marker)
            (value,),
        )
        if not site:
            raise BadInput(f"--station {value}: no such site in the store")
        if site[0][0] != "station":
            raise BadInput(f"--station {value}: is a {site[0][0]}, not a delivery station")
        rows = driver_rows(
            conn,
            "SELECT sender_id, category, origin_site_id, dest_adcode, count(*) AS n FROM waybills "  # noqa: S608
            f"WHERE dest_site_id = {mark} GROUP BY sender_id, category, origin_site_id, "
            "dest_adcode ORDER BY n DESC, sender_id LIMIT 1",
            (value,),
        )
        if not rows:
            raise BadInput(f"--station {value}: no parcel was ever addressed there to copy")
        sender, category, origin, adcode, _ = rows[0]
        return _Template(str(sender), str(category), str(origin), value, str(adcode))
    rows = driver_rows(
        conn,
        "SELECT category, origin_site_id, dest_site_id, dest_adcode, count(*) AS n FROM waybills "  # noqa: S608
        f"WHERE sender_id = {mark} GROUP BY category, origin_site_id, dest_site_id, dest_adcode "
        "ORDER BY n DESC, dest_site_id LIMIT 1",
        (value,),
    )
    if not rows:
        raise BadInput(f"--sender {value}: the store holds no waybill of this sender")
    category, origin, dest, adcode, _ = rows[0]
    return _Template(value, str(category), str(origin), str(dest), str(adcode))


def _waybill_numbers(
    conn: sa.Connection, rng: np.random.Generator, count: int, pattern: str
) -> list[str]:
    """Unused numbers of the store's own shape: its newest number's letters, random digits."""
    newest = driver_rows(conn, "SELECT waybill_no FROM waybills ORDER BY created_at DESC LIMIT 1")
    shape = re.fullmatch(r"(\D*)(\d+)", str(newest[0][0])) if newest else None
    if shape is None:
        raise BadInput("canaries: the store has no waybill of the form LETTERS+DIGITS to copy")
    prefix, digits = shape.group(1), len(shape.group(2))
    compiled = re.compile(pattern)
    chosen: list[str] = []
    for _ in range(20):
        draws = rng.integers(0, 10, size=(count * 2, digits))
        candidates = [prefix + "".join(map(str, row)) for row in draws]
        candidates = [c for c in candidates if compiled.fullmatch(c) and c not in chosen]
        taken = _existing(
            conn, "SELECT waybill_no FROM waybills WHERE waybill_no IN ({keys})", candidates
        )
        taken |= _existing(
            conn, "SELECT waybill_no FROM canaries WHERE waybill_no IN ({keys})", candidates
        )
        chosen += [c for c in dict.fromkeys(candidates) if c not in taken][: count - len(chosen)]
        if len(chosen) == count:
            return chosen
    raise BadInput("canaries: no free waybill number of the store's shape matches the pattern")


def _phones(
    conn: sa.Connection,
    vault: Vault,
    rng: np.random.Generator,
    count: int,
    prefixes: Sequence[str],
) -> list[str]:
    """Numbers of the canary ranges that are neither virtual numbers nor anyone's in the vault."""
    chosen: list[str] = []
    indexer = vault.blind_indexer
    for _ in range(20):
        candidates = []
        for _ in range(count * 2):
            prefix = prefixes[int(rng.integers(0, len(prefixes)))]
            tail = "".join(map(str, rng.integers(0, 10, size=11 - len(prefix))))
            candidates.append(prefix + tail)
        candidates = [c for c in dict.fromkeys(candidates) if c not in chosen]
        pooled = _existing(
            conn, "SELECT number FROM vnum_pool WHERE number IN ({keys})", candidates
        )
        index = {indexer.phone(c): c for c in candidates if c not in pooled}
        mark = marker(conn)
        used: set[str] = set()
        keys = list(index)
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            for (bidx,) in driver_rows(
                conn,
                f"SELECT phone_bidx FROM waybills WHERE phone_bidx IN ({', '.join([mark] * len(part))})",  # noqa: S608
                part,
            ):
                used.add(index[bytes(bidx)])
        chosen += [c for c in index.values() if c not in used][: count - len(chosen)]
        if len(chosen) == count:
            return chosen
    raise BadInput("PARCELGUARD_CANARY_PREFIXES: the ranges have no free number left")


def _existing(conn: sa.Connection, sql: str, keys: Sequence[str]) -> set[str]:
    from parcelguard.storage.bulk import rows_by_keys

    return {str(row[0]) for row in rows_by_keys(conn, sql, set(keys))} if keys else set()


def _recipients(rng: np.random.Generator, adcode: str, count: int) -> list[tuple[str, str]]:
    """Synthetic names and street addresses in the destination district (the simulator's)."""
    from parcelguard.simulate.recipients import ESTATES, ROADS
    from parcelguard.simulate.reference import districts, sample_names

    d = districts()
    codes = d.adcode.tolist()
    at = codes.index(adcode) if adcode in codes else 0
    city = "" if d.city[at] == d.province[at] else str(d.city[at])
    place = f"{d.province[at]}{city}{d.name[at]}"
    names = sample_names(rng, count)
    found = []
    for i in range(count):
        road = ROADS[int(rng.integers(0, len(ROADS)))]
        estate = ESTATES[int(rng.integers(0, len(ESTATES)))]
        found.append(
            (
                str(names[i]),
                f"{place}{road}路{int(rng.integers(1, 300))}号{estate}小区"
                f"{int(rng.integers(1, 30))}栋{int(rng.integers(1, 6))}单元{int(rng.integers(101, 3304))}室",
            )
        )
    return found


def _forget(engine: sa.Engine, numbers: Sequence[str]) -> None:
    with begin_write(engine) as conn:
        for table in (canaries, parcel_status, parcel_exceptions):
            conn.execute(table.delete().where(table.c.waybill_no.in_(list(numbers))))
