"""Benchmark ``parcelguard guard tune`` on a simulated month, against reading the same tables.

Run ``.venv/bin/python bench/guard_tune.py`` (30 days x 20,000 waybills a day, 2,000 staff,
all scenarios); ``--full`` asks for the issue's scale, 30 days x 100,000 waybills a day. The
world is simulated into a temporary folder first (not timed). Then, ``--repeat`` times,
interleaved so the machine's noise falls on both alike:

* the baseline: ``pyarrow.parquet.read_table`` of the three tables tuning needs
  (employees, sites, accesses) and the labels, nothing else: the least any tuner must pay;
* the tuner, as the command runs it: :func:`parcelguard.cli.guard.read_history` (the
  project's reader, which converts and checks every column, then keeps the counted reveals),
  :func:`~parcelguard.reveal.guard.tune.tune` and one
  :func:`~parcelguard.reveal.guard.tune.check` of the proposal on the same history.

Medians are reported; ``tune_vs_read_ratio`` is the whole tuner's time over the baseline's.
Last line: one JSON object (keys end in ``_per_s``, ``_s``, ``_mib`` or ``_ratio``).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from parcelguard.cli.guard import read_history
from parcelguard.events import write_folder_chunks
from parcelguard.reveal.guard.tune import TABLES_NEEDED, check, tune
from parcelguard.simulate.run import scenario_names, simulate_chunks
from parcelguard.simulate.world import WorldConfig, default_peak


def read_plain(folder: Path) -> int:
    """The baseline: the tables as pyarrow reads them, no conversion, no checks."""
    rows = 0
    for name in (*TABLES_NEEDED, "labels"):
        rows += pq.read_table(folder / f"{name}.parquet").num_rows
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--waybills-per-day", type=int, default=20_000)
    parser.add_argument("--employees", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=2016)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--full", action="store_true", help="30 days x 100,000 waybills a day")
    args = parser.parse_args()
    if args.full:
        args.days, args.waybills_per_day, args.employees = 30, 100_000, 5_000
    config = WorldConfig(
        seed=args.seed,
        days=args.days,
        employees=args.employees,
        waybills_per_day=args.waybills_per_day,
        peak_days=default_peak(args.days),  # as `parcelguard simulate` does
    )
    print(
        f"simulating {args.days} days x {args.waybills_per_day:,} waybills, "
        f"{args.employees:,} staff (not timed)"
    )
    with tempfile.TemporaryDirectory(prefix="parcelguard-tune-") as name:
        folder = Path(name)
        began = time.perf_counter()
        counts = write_folder_chunks(
            folder, simulate_chunks(config, scenario_names("all")), "parquet"
        )
        simulate_s = time.perf_counter() - began
        print(f"simulated in {simulate_s:.1f} s: {counts['accesses']:,} accesses")
        plain, whole, reading, tuning = [], [], [], []
        for round_ in range(args.repeat):
            began = time.perf_counter()
            read_plain(folder)
            plain.append(time.perf_counter() - began)

            began = time.perf_counter()
            history = read_history(folder)
            read_done = time.perf_counter()
            proposal = tune(history)
            found = check(history, proposal.config())
            done = time.perf_counter()
            reading.append(read_done - began)
            tuning.append(done - read_done)
            whole.append(done - began)
            print(
                f"round {round_ + 1}: pyarrow read {plain[-1]:.2f} s; tuner {whole[-1]:.2f} s "
                f"(read and keep the reveals {reading[-1]:.2f} s, tune and check "
                f"{tuning[-1]:.2f} s)"
            )
    reveals = history.reveals
    learned = sum(g.learned for g in proposal.groups)
    print(
        f"{reveals:,} counted reveals of {len(history.employee_ids):,} accounts; "
        f"{learned} of {len(proposal.groups)} groups learned; in sample "
        f"{found.legit_stepped_up_share:.3%} of legitimate reveals over quota"
    )
    tune_s = statistics.median(whole)
    plain_s = statistics.median(plain)
    figures = {
        "accesses_per_s": round(counts["accesses"] / tune_s),
        "reveals_per_s": round(reveals / tune_s),
        "tune_s": round(tune_s, 3),
        "tune_read_s": round(statistics.median(reading), 3),
        "tune_compute_s": round(statistics.median(tuning), 3),
        "pyarrow_read_s": round(plain_s, 3),
        "tune_vs_read_ratio": round(tune_s / plain_s, 2),
        "simulate_s": round(simulate_s, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
