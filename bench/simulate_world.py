"""Benchmark the world simulator against a plain-Python loop, in the same run.

Run ``.venv/bin/python bench/simulate_world.py`` (``make bench`` runs every ``bench/*.py``);
``--full`` asks for the issue's scale, 30 days x 300,000 waybills. The figure of merit is
waybills per second for the whole world generated and streamed to Parquet in a temporary
folder (waybills, scans, assignments, tickets, accesses, scenarios, labels), and its peak
memory; the baseline is a plain loop that builds only the waybills table's rows (six columns,
one ``random`` call per value) for up to 200,000 waybills. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from parcelguard.events import write_folder_chunks
from parcelguard.simulate.run import scenario_names, simulate_chunks
from parcelguard.simulate.world import WorldConfig, default_peak


def plain_loop(n: int, seed: int) -> float:
    """Seconds to build ``n`` waybill rows one at a time, the way a first version would."""
    rng = random.Random(seed)
    start = datetime(2016, 10, 1, tzinfo=UTC)
    began = time.perf_counter()
    rows = []
    for i in range(n):
        rows.append(
            (
                f"PG{316_500_000_000 + i:012d}",
                f"S{rng.randrange(2000):05d}",
                start + timedelta(seconds=rng.randrange(30 * 86_400)),
                f"ST{rng.randrange(1, 500):04d}",
                f"ST{rng.randrange(1, 500):04d}",
                f"{rng.randrange(110000, 659999):06d}",
            )
        )
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--waybills-per-day", type=int, default=100_000)
    parser.add_argument("--employees", type=int, default=5_000)
    parser.add_argument("--full", action="store_true", help="30 days x 300,000 waybills a day")
    args = parser.parse_args()
    if args.full:
        args.days, args.waybills_per_day, args.employees = 30, 300_000, 20_000
    config = WorldConfig(
        days=args.days,
        employees=args.employees,
        waybills_per_day=args.waybills_per_day,
        peak_days=default_peak(args.days),  # as `parcelguard simulate` does
    )
    print(
        f"simulating {args.days} days x {args.waybills_per_day:,} waybills, {args.employees:,} staff"
    )
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="parcelguard-world-") as folder:
        counts = write_folder_chunks(
            Path(folder), simulate_chunks(config, scenario_names("all")), "parquet"
        )
        size_mib = sum(p.stat().st_size for p in Path(folder).iterdir()) / 2**20
    elapsed = time.perf_counter() - began
    waybills = counts["waybills"]
    rows = sum(counts.values())
    print(f"rows: {counts}; Parquet {size_mib:,.0f} MiB")
    per_s = waybills / elapsed
    sample = min(waybills, 200_000)
    loop_s = plain_loop(sample, config.seed)
    loop_per_s = sample / loop_s
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"world: {waybills:,} waybills, {rows:,} rows in all tables, {elapsed:.1f} s = {per_s:,.0f} waybills/s"
    )
    print(
        f"plain loop (waybills table only): {sample:,} rows in {loop_s:.2f} s = {loop_per_s:,.0f}/s"
    )
    rows_ratio = (rows / elapsed) / loop_per_s
    print(
        f"rows per second, whole world vs plain loop: {rows_ratio:.2f}x; peak RSS {peak:,.0f} MiB"
    )
    print(
        json.dumps(
            {
                "world_waybills_per_s": round(per_s),
                "world_s": round(elapsed, 2),
                "world_rows_per_s": round(rows / elapsed),
                "plain_loop_waybills_per_s": round(loop_per_s),
                "world_waybills_vs_plain_loop_ratio": round(per_s / loop_per_s, 3),
                "world_rows_vs_plain_loop_rows_ratio": round(rows_ratio, 3),
                "peak_rss_mib": round(peak, 1),
                "parquet_mib": round(size_mib, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
