"""Benchmark the live simulation: a world's every reveal through the real door, both regimes.

Run ``.venv/bin/python bench/live_simulation.py`` (defaults finish in about two minutes on the
2-core machine); ``--days 30 --waybills-per-day 100000`` asks for a month. For each regime the
figure of merit is decisions per second of the replay (one ``reveal_batch`` per slice of
simulated time, insiders adapting) and the wall time of the whole run (scratch store, vault,
workflow facts, virtual numbers, replay); the baseline in the same run is ``simulate()`` alone
for the same world, the cost of the world before a single decision. Last line: one JSON
object whose keys end in ``_per_s``, ``_s`` or ``_ratio``.
"""

from __future__ import annotations

import argparse
import json
import time

from parcelguard.simulate.live import LIVE_REGIMES, run_live, run_live_regimes, simulate_for_live
from parcelguard.simulate.run import scenario_names
from parcelguard.simulate.world import WorldConfig, default_peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=2016)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--waybills-per-day", type=int, default=10_000)
    parser.add_argument("--employees", type=int, default=800)
    parser.add_argument("--scenarios", default="all")
    parser.add_argument("--batch-seconds", type=int, default=60)
    parser.add_argument(
        "--no-both", dest="both", action="store_false", help="skip the side-by-side run"
    )
    args = parser.parse_args()
    config = WorldConfig(
        seed=args.seed,
        days=args.days,
        employees=args.employees,
        waybills_per_day=args.waybills_per_day,
        peak_days=default_peak(args.days),  # as `parcelguard simulate live` does
    )
    names = scenario_names(args.scenarios)
    print(
        f"live simulation: {args.days} days x {args.waybills_per_day:,} waybills, "
        f"{args.employees:,} staff, scenarios {args.scenarios}, slices of {args.batch_seconds} s"
    )
    began = time.perf_counter()
    tables = simulate_for_live(config, names)
    simulate_s = time.perf_counter() - began
    print(
        f"baseline simulate() alone: {tables['waybills'].num_rows:,} waybills, "
        f"{tables['accesses'].num_rows:,} accesses in {simulate_s:.2f} s"
    )
    figures: dict[str, float] = {"simulate_s": round(simulate_s, 2)}
    sequential_s = 0.0
    legacy_decisions = -1
    for regime in LIVE_REGIMES:
        report = run_live(config, names, regime, batch_seconds=args.batch_seconds, tables=tables)
        sequential_s += report.wall_seconds
        if regime == "legacy":
            legacy_decisions = report.decisions
        taken = sum(f.records_obtained for f in report.insiders)
        print(
            f"{regime}: {report.decisions:,} decisions in {report.batches:,} batches, "
            f"{report.decisions_per_second:,.0f} decisions/s; wall {report.wall_seconds:.1f} s "
            f"(setup {report.setup_seconds:.1f} s, replay {report.replay_seconds:.1f} s); "
            f"insiders obtained {taken:,} records"
        )
        figures[f"{regime}_decisions_per_s"] = report.decisions_per_second
        figures[f"{regime}_batches_per_s"] = round(report.batches / report.replay_seconds, 1)
        figures[f"{regime}_setup_s"] = round(report.setup_seconds, 2)
        figures[f"{regime}_replay_s"] = round(report.replay_seconds, 2)
        figures[f"{regime}_wall_s"] = round(report.wall_seconds, 2)
        figures[f"{regime}_wall_vs_simulate_ratio"] = round(report.wall_seconds / simulate_s, 2)
    figures["guarded_vs_legacy_decisions_per_s_ratio"] = round(
        figures["guarded_decisions_per_s"] / figures["legacy_decisions_per_s"], 3
    )
    if args.both:
        # `simulate live --regime both`: the two regimes side by side (the legacy one in its
        # own process, simulating the world again), against the two runs one after the other.
        began = time.perf_counter()
        runs = run_live_regimes(
            config, names, ["guarded", "legacy"], batch_seconds=args.batch_seconds, tables=tables
        )
        both_s = time.perf_counter() - began
        same = runs["legacy"].decisions == legacy_decisions
        print(
            f"both side by side: {both_s:.1f} s wall, against {sequential_s:.1f} s one after "
            f"the other; the child's legacy run made the same decisions: {same}"
        )
        figures["both_wall_s"] = round(both_s, 2)
        figures["both_vs_sequential_ratio"] = round(both_s / sequential_s, 3)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
