"""Benchmark batch detection on DuckDB against a plain DuckDB scan of the same files.

Run ``.venv/bin/python bench/detect.py`` (``make bench`` runs every ``bench/*.py``). The
default is the issue's scale: 10,000,000 access events with 30,000,000 workflow events
(scans, assignments, tickets) of 3.4 million waybills over 30 days and 20,000 staff,
written as Parquet to a temporary folder by a synthetic generator below (the simulator
makes about one access per waybill and eight workflow rows, so its month at 10 M accesses
would carry 90 M workflow rows; this generator keeps the issue's ratio, with the
simulator's shapes: every parcel picked up, hubbed, dispatched and delivered by the
couriers assigned to it, reveals by the delivering courier at dispatch, masked views at
pickup, searches before calls, tickets worked by agents, logins, a little unexplained noise
and a few insiders who look up hundreds of parcels a day).

``parcelguard detect run`` then runs in a child process (its wall time and peak RSS are its
own), and so does the baseline: DuckDB reading every column of the three largest tables
once (counts and distinct counts), the least any detector must do. ``--small`` runs a
tenth of the scale. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from parcelguard.events import write_folder_chunks

US = 1_000_000
HOUR = 3600 * US
DAY = 24 * HOUR
START = int(np.datetime64(date(2016, 10, 1), "us").astype(np.int64)) - 8 * HOUR
TS = pa.timestamp("us", tz="+08:00")
CHUNK = 2_000_000
CATEGORIES = ("health", "medicine", "collectibles", "apparel", "electronics", "food", "books",
              "cosmetics", "household", "documents", "other")  # fmt: skip
PROVINCES = ("11", "13", "31", "32", "33", "37", "41", "42", "44", "51")


def _ids(prefix: str, n: int, width: int) -> pa.Array:
    serial = pa.array(np.arange(1, n + 1)).cast(pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(serial, width, "0"), "")


def _ts(us: np.ndarray) -> pa.Array:
    return pa.array(us.astype("datetime64[us]")).cast(pa.timestamp("us", tz="UTC")).cast(TS)


def generate(
    folder: Path, accesses_target: int, waybills: int, staff: int, days: int
) -> dict[str, int]:
    rng = np.random.default_rng(2016)
    n_station, n_wh = max(staff // 16, 10), max(staff // 100, 3)
    n_sites = n_station + n_wh + 2
    site_ids = _ids("ST", n_sites, 4)
    kinds = ["station"] * n_station + ["warehouse"] * n_wh + ["cs_center", "office"]
    adcode = [f"{PROVINCES[i % len(PROVINCES)]}{(i * 37) % 10000:04d}" for i in range(n_sites)]
    # staff: couriers and clerks at stations, warehouse clerks, agents at the centre, office
    role = rng.choice(["courier", "station_clerk", "warehouse_clerk", "cs_agent", "security_officer", "hq_analyst"],
                      size=staff, p=[0.6, 0.12, 0.14, 0.1, 0.02, 0.02])  # fmt: skip
    site = np.where(role == "courier", rng.integers(0, n_station, staff), 0)
    site = np.where(role == "station_clerk", rng.integers(0, n_station, staff), site)
    site = np.where(role == "warehouse_clerk", n_station + rng.integers(0, n_wh, staff), site)
    site = np.where(role == "cs_agent", n_station + n_wh, site)
    site = np.where(np.isin(role, ["security_officer", "hq_analyst"]), n_station + n_wh + 1, site)
    emp_ids = _ids("E", staff, 6)
    emp_ip = pa.array(
        [f"10.{i // 62_500 % 250}.{i // 250 % 250}.{i % 250 + 2}" for i in range(staff)]
    )
    couriers = [np.flatnonzero((role == "courier") & (site == s)) for s in range(n_station)]
    fallback = np.flatnonzero(role == "courier")
    first_courier = np.array(
        [c[0] if c.size else fallback[s % fallback.size] for s, c in enumerate(couriers)]
    )
    agents = np.flatnonzero(role == "cs_agent")
    n_senders = max(waybills // (150 * days), 20)
    sender_ids = _ids("S", n_senders, 5)
    w_sender = (rng.zipf(1.9, waybills) - 1) % n_senders
    created = np.sort(START + rng.integers(0, days * DAY, waybills))
    origin = rng.integers(0, n_station, waybills)
    dest = rng.integers(0, n_station, waybills)
    picker, deliverer = first_courier[origin], first_courier[dest]
    numbers = pc.binary_join_element_wise("PG", pc.utf8_lpad(pa.array(316_500_000_000 + np.arange(waybills)).cast(pa.string()), 12, "0"), "")  # fmt: skip
    hub = n_station + (dest % n_wh)
    wh_clerks = np.flatnonzero(role == "warehouse_clerk")
    st_clerks = np.flatnonzero(role == "station_clerk")

    def static() -> Iterator[tuple[str, pa.Table]]:
        yield "sites", pa.table({"site_id": site_ids, "kind": kinds, "adcode": adcode})
        yield "employees", pa.table({
            "employee_id": emp_ids, "role": role.astype(str), "site_id": site_ids.take(pa.array(site)),
            "hired_on": pa.array([date(2015, 1, 1)] * staff), "left_on": pa.nulls(staff, pa.date32()),
        })  # fmt: skip
        yield "senders", pa.table({
            "sender_id": sender_ids, "category": rng.choice(CATEGORIES, n_senders).astype(str),
            "bulk": rng.random(n_senders) < 0.1,
        })  # fmt: skip
        for lo in range(0, waybills, CHUNK):
            sl = slice(lo, min(lo + CHUNK, waybills))
            yield "waybills", pa.table({
                "waybill_no": numbers[sl], "sender_id": sender_ids.take(pa.array(w_sender[sl])),
                "created_at": _ts(created[sl]), "origin_site_id": site_ids.take(pa.array(origin[sl])),
                "dest_site_id": site_ids.take(pa.array(dest[sl])),
                "dest_adcode": pa.array(adcode).take(pa.array(dest[sl])),
            })  # fmt: skip

    def scans() -> Iterator[tuple[str, pa.Table]]:
        steps = [("pickup", 1, origin, picker), ("depart", 3, origin, picker),
                 ("arrive", 10, hub, wh_clerks[dest % wh_clerks.size]),
                 ("depart", 14, hub, wh_clerks[dest % wh_clerks.size]),
                 ("arrive", 30, dest, st_clerks[dest % st_clerks.size]),
                 ("dispatch", 40, dest, deliverer), ("deliver", 44, dest, deliverer)]  # fmt: skip
        for kind, hours, where, who in steps:
            for lo in range(0, waybills, CHUNK):
                sl = slice(lo, min(lo + CHUNK, waybills))
                n = sl.stop - sl.start
                yield "scans", pa.table({
                    "ts": _ts(created[sl] + hours * HOUR + rng.integers(0, HOUR, n)),
                    "waybill_no": numbers[sl], "site_id": site_ids.take(pa.array(where[sl])),
                    "employee_id": emp_ids.take(pa.array(who[sl])), "kind": pa.array([kind] * n),
                })  # fmt: skip
        for lo in range(0, waybills, CHUNK):
            sl = slice(lo, min(lo + CHUNK, waybills))
            for who, a, b in ((picker, 0, 2), (deliverer, 29, 46)):
                yield "assignments", pa.table({
                    "waybill_no": numbers[sl], "courier_id": emp_ids.take(pa.array(who[sl])),
                    "assigned_at": _ts(created[sl] + a * HOUR), "until": _ts(created[sl] + b * HOUR),
                })  # fmt: skip

    ticketed = np.flatnonzero(rng.random(waybills) < 0.03)
    agent = agents[rng.integers(0, agents.size, ticketed.size)]
    opened = created[ticketed] + 20 * HOUR

    def tickets() -> Iterator[tuple[str, pa.Table]]:
        yield "tickets", pa.table({
            "ticket_id": _ids("T", ticketed.size, 8), "waybill_no": numbers.take(pa.array(ticketed)),
            "agent_id": emp_ids.take(pa.array(agent)), "opened_at": _ts(opened),
            "closed_at": _ts(opened + 5 * HOUR), "kind": pa.array(["delay"] * ticketed.size),
        })  # fmt: skip

    serial = [0]

    def batch(ts: np.ndarray, who: np.ndarray, action: str, wb: np.ndarray | None, field: str | None,
              purpose: str | None, channel: str, decision: str = "allow", reason: str = "ok") -> pa.Table:  # fmt: skip
        n = ts.size
        first = serial[0]
        serial[0] += n
        ev = pc.binary_join_element_wise("A", pc.utf8_lpad(pa.array(np.arange(first + 1, first + n + 1)).cast(pa.string()), 10, "0"), "")  # fmt: skip
        names = emp_ids.take(pa.array(who))
        return pa.table({
            "event_id": ev, "ts": _ts(ts), "employee_id": names, "action": pa.array([action] * n),
            "waybill_no": numbers.take(pa.array(wb)) if wb is not None else pa.nulls(n, pa.string()),
            "field": pa.array([field] * n, pa.string()), "purpose": pa.array([purpose] * n, pa.string()),
            "channel": pa.array([channel] * n), "device_id": pc.binary_join_element_wise("H", names, ""),
            "ip": emp_ip.take(pa.array(who)),
            "decision": pa.array([decision] * n), "reason": pa.array([reason] * n),
        })  # fmt: skip

    def accesses() -> Iterator[tuple[str, pa.Table]]:
        all_w = np.arange(waybills)
        logins = staff * days
        fixed = 2 * waybills + 2 * ticketed.size + logins
        extra_views = max(accesses_target - fixed - 50_000, 0)
        searched = rng.random(waybills) < min(1.0, extra_views / waybills)
        for lo in range(0, waybills, CHUNK):
            sl = slice(lo, min(lo + CHUNK, waybills))
            w = all_w[sl]
            yield (
                "accesses",
                batch(
                    created[sl] + HOUR + rng.integers(0, HOUR, w.size),
                    picker[sl],
                    "view_masked",
                    w,
                    None,
                    "pickup",
                    "handheld",
                ),
            )
            s = w[searched[sl]]
            yield (
                "accesses",
                batch(
                    created[s] + 40 * HOUR + 10 * 60 * US,
                    deliverer[s],
                    "search",
                    s,
                    None,
                    "delivery",
                    "handheld",
                ),
            )
            yield (
                "accesses",
                batch(
                    created[sl] + 40 * HOUR + 20 * 60 * US,
                    deliverer[sl],
                    "reveal",
                    w,
                    "phone",
                    "delivery",
                    "handheld",
                    reason="assigned",
                ),
            )
        yield (
            "accesses",
            batch(
                opened + 10 * 60 * US, agent, "search", ticketed, None, "customer_service", "web"
            ),
        )
        yield (
            "accesses",
            batch(
                opened + 11 * 60 * US,
                agent,
                "reveal",
                ticketed,
                "phone",
                "customer_service",
                "web",
                reason="ticket",
            ),
        )
        day = np.repeat(np.arange(days), staff)
        yield "accesses", batch(START + day * DAY + 7 * HOUR + rng.integers(0, 2 * HOUR, day.size),
                                np.tile(np.arange(staff), days), "login", None, None, None, "web")  # fmt: skip
        noise = rng.integers(0, waybills, 20_000)  # honest noise: unexplained lookups
        yield "accesses", batch(created[noise] + 30 * HOUR, rng.integers(0, staff, noise.size), "reveal", noise, "phone", "other", "web", reason="legacy_lookup")  # fmt: skip
        for i in range(5):  # insiders: a few hundred fresh lookups a day each
            ts = np.sort(START + rng.integers(DAY, days * DAY, 300 * days))
            wb = np.clip(
                np.searchsorted(created, ts) - rng.integers(1, 5000, ts.size), 0, waybills - 1
            )
            yield "accesses", batch(ts, np.full(ts.size, wh_clerks[i]), "reveal", wb, "phone", "exception", "web", reason="legacy_lookup")  # fmt: skip

    rows: dict[str, int] = {}
    for source in (static(), scans(), tickets(), accesses()):
        rows |= write_folder_chunks(folder, source, "parquet")
    return rows


_SCAN = """
import sys, time, duckdb, resource
folder = sys.argv[1]
con = duckdb.connect()
for t in ("accesses", "scans", "assignments"):
    con.sql(f"SELECT count(*), count(DISTINCT employee_id) FROM read_parquet('{folder}/{t}.parquet')" if t != "assignments"
            else f"SELECT count(*), count(DISTINCT courier_id) FROM read_parquet('{folder}/{t}.parquet')").fetchall()
    con.sql(f"SELECT * FROM read_parquet('{folder}/{t}.parquet')").fetch_arrow_table().num_rows
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--small", action="store_true", help="a tenth of the scale")
    parser.add_argument("--keep", type=Path, help="write the input here and keep it")
    args = parser.parse_args()
    scale = 10 if args.small else 1
    accesses, waybills, staff = 10_000_000 // scale, 3_400_000 // scale, 20_000 // scale
    with tempfile.TemporaryDirectory(prefix="pg-detect-bench-") as tmp:
        folder = args.keep or Path(tmp) / "events"
        began = time.perf_counter()
        rows = generate(folder, accesses, waybills, staff, 30)
        gen_s = time.perf_counter() - began
        workflow = rows["scans"] + rows["assignments"] + rows["tickets"]
        print(
            f"input: {rows['accesses']:,} accesses, {workflow:,} workflow rows, generated in {gen_s:.1f} s",
            file=sys.stderr,
        )
        began = time.perf_counter()
        scan = subprocess.run(
            [sys.executable, "-c", _SCAN, str(folder)], capture_output=True, text=True, check=True
        )
        scan_s = time.perf_counter() - began
        scan_mib = int(scan.stdout.strip().splitlines()[-1]) / 1024
        cli = [str(Path(sys.executable).with_name("parcelguard")), "detect", "run", "--events", str(folder),
               "--out", str(Path(tmp) / "alerts.jsonl"), "--json", "--no-feedback"]  # fmt: skip
        env_home = {**os.environ, "PARCELGUARD_HOME": str(Path(tmp) / "home")}
        began = time.perf_counter()
        done = subprocess.run(cli, capture_output=True, text=True, env=env_home, check=False)
        detect_s = time.perf_counter() - began
        if done.returncode != 0:
            raise SystemExit(done.stderr[-2000:])
        summary = json.loads(done.stdout.strip().splitlines()[-1])
        import resource

        # The largest child so far: the scan (whose own peak is printed apart) or detection.
        detect_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        events = rows["accesses"] + workflow
        print(
            f"plain DuckDB scan of the same files: {scan_s:.1f} s ({scan_mib:,.0f} MiB)",
            file=sys.stderr,
        )
        print(f"detect run: {detect_s:.1f} s, peak RSS {detect_mib:,.0f} MiB (largest child), "
              f"{summary['alerts']} alerts, {summary['employees_scored']:,} employees", file=sys.stderr)  # fmt: skip
        print(
            json.dumps(
                {
                    "generate_s": round(gen_s, 1),
                    "detect_s": round(detect_s, 1),
                    "detect_events_per_s": round(events / detect_s),
                    "plain_scan_s": round(scan_s, 1),
                    "detect_vs_plain_scan_ratio": round(detect_s / scan_s, 2),
                    "peak_rss_mib": round(detect_mib),
                    "plain_scan_peak_mib": round(scan_mib),
                    "alerts_count_ratio": round(
                        summary["alerts"] / max(summary["employees_scored"], 1), 4
                    ),
                }
            )
        )


if __name__ == "__main__":
    main()
