"""Benchmark the guard's window counters: one ``observe`` of a 100-actor batch, per backend.

Run it as ``.venv/bin/python bench/guard_counters.py``. The reveal service asks the guard
once per batch of reveals, so what matters is the cost of one call for a whole batch. Every
figure is measured against a baseline taken in the same run, on the same machine, through the
same connection setup:

* store (SQLite, a fresh file): ``StoreCounters.observe`` against a ``SELECT 1`` round trip
  through the same engine, and against the cheapest durable write (``begin_write`` with one
  one-row upsert), since every observe is a write transaction with a synchronous commit;
* Redis (127.0.0.1:6379 unless ``--redis-url``): ``RedisCounters.observe`` against ``PING``.

Before timing, every actor gets ``--history-minutes`` of past buckets, so the windows hold what
a busy shift leaves in them. Human-readable lines go to stdout as the run goes; the last line is
one JSON object (every key ends in ``_per_s``, ``_ms`` or ``_ratio``).
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis

from parcelguard.reveal.guard.counters import WindowCounters
from parcelguard.reveal.guard.counters_redis import RedisCounters
from parcelguard.reveal.guard.counters_store import StoreCounters
from parcelguard.storage import begin_write, connect_store, upgrade

Figures = dict[str, float]
KINDS = ("reveal", "plaintext")


def say(message: str) -> None:
    print(message, flush=True)


def batches(actors: int, size: int) -> list[dict[str, dict[str, int]]]:
    names = [f"E{i:06d}" for i in range(actors)]
    return [
        {name: dict.fromkeys(KINDS, 1) for name in names[start : start + size]}
        for start in range(0, actors, size)
    ]


def fill_history(
    counters: WindowCounters, work: list[dict[str, dict[str, int]]], now: int, minutes: int
) -> None:
    for minute in range(minutes, 0, -1):
        for batch in work:
            counters.observe(batch, now - 60 * minute)


def per_call_ms(call: Callable[[int], object], calls: int) -> float:
    """The median of ``calls`` timed calls, in milliseconds (after a few untimed ones)."""
    for i in range(5):
        call(i)
    times = []
    for i in range(calls):
        started = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1_000


def bench_observe(
    label: str,
    counters: WindowCounters,
    baselines: dict[str, Callable[[int], object]],
    args: argparse.Namespace,
    figures: Figures,
) -> None:
    work = batches(args.actors, args.batch)
    now = int(time.time())
    started = time.perf_counter()
    fill_history(counters, work, now, args.history_minutes)
    say(
        f"{label}: {args.history_minutes} minutes of history for {args.actors} actors "
        f"in {time.perf_counter() - started:.1f} s"
    )
    observe_ms = per_call_ms(
        lambda i: counters.observe(work[i % len(work)], now + i // len(work)), args.calls
    )
    figures[f"{label}_observe_ms"] = observe_ms
    figures[f"{label}_actors_per_s"] = args.batch / observe_ms * 1_000
    say(
        f"{label}: observe of {args.batch} actors: {observe_ms:.2f} ms a call "
        f"({figures[f'{label}_actors_per_s']:,.0f} actors/s)"
    )
    for name, baseline in baselines.items():
        base_ms = per_call_ms(baseline, args.calls)
        figures[f"{label}_{name}_ms"] = base_ms
        figures[f"{label}_observe_vs_{name}_ratio"] = observe_ms / base_ms
        say(
            f"{label}: baseline {name}: {base_ms:.3f} ms a call; observe is "
            f"{observe_ms / base_ms:.1f}x"
        )


def bench_store(args: argparse.Namespace, figures: Figures) -> None:
    with tempfile.TemporaryDirectory(prefix="pg-bench-guard-") as home:
        engine = connect_store(f"sqlite:///{Path(home) / 'parcelguard.db'}", create=True)
        try:
            upgrade(engine)
            with begin_write(engine) as conn:
                conn.exec_driver_sql("CREATE TABLE bench_one (k INTEGER PRIMARY KEY, n INTEGER)")

            def select_one(_: int) -> object:
                with engine.connect() as conn:
                    return conn.exec_driver_sql("SELECT 1").scalar()

            def durable_write(i: int) -> object:
                with begin_write(engine) as conn:
                    return conn.exec_driver_sql(
                        "INSERT INTO bench_one (k, n) VALUES (1, ?) "
                        "ON CONFLICT (k) DO UPDATE SET n = excluded.n",
                        (i,),
                    )

            baselines = {"select1": select_one, "write_commit": durable_write}
            bench_observe("store", StoreCounters(engine), baselines, args, figures)
        finally:
            engine.dispose()


def bench_redis(args: argparse.Namespace, figures: Figures) -> None:
    prefix = f"parcelguard:bench:{secrets.token_hex(6)}:"
    client = redis.Redis.from_url(args.redis_url, socket_connect_timeout=0.5, socket_timeout=5)
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        say(
            f"redis: skipped, {args.redis_url} does not answer ({exc}); "
            "start it with `redis-server --daemonize yes`"
        )
        return
    try:
        counters = RedisCounters(client, prefix=prefix)
        bench_observe("redis", counters, {"ping": lambda _: client.ping()}, args, figures)
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1_000))
        for start in range(0, len(keys), 1_000):
            client.delete(*keys[start : start + 1_000])
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--actors", type=int, default=1_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--calls", type=int, default=200, help="timed calls per figure")
    parser.add_argument("--history-minutes", type=int, default=60)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    figures: Figures = {}
    bench_store(args, figures)
    bench_redis(args, figures)
    print(json.dumps({key: round(value, 4) for key, value in figures.items()}))


if __name__ == "__main__":
    main()
