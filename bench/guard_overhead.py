"""Benchmark what the online guard adds to a reveal, in process, against the same reveal without it.

Run ``.venv/bin/python bench/guard_overhead.py [--n 2000] [--batch 1]``. It builds the store of
``bench/http_reveal.py`` (200 couriers with registered handhelds, 10 assigned waybills each,
a virtual-number pool) in a temporary home, then times ``RevealService.reveal_batch`` on the
same requests three ways, interleaved round by round so the machine's noise falls on all of
them alike: without a guard (the baseline), with the guard's windows in the store (the
embedded default), and with them in Redis at 127.0.0.1:6379 (skipped if it is not running).
The quotas are raised so that every request is judged and none is stepped up: the figure is
the guard's own cost, not a containment's.

Last line: one JSON object; ``guard_store_added_median_ms`` is the target's figure (< 1 ms).
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from http_reveal import build_store  # noqa: E402
from parcelguard.admin import open_reveal_service  # noqa: E402
from parcelguard.config import Settings  # noqa: E402
from parcelguard.reveal.facts import RevealRequest  # noqa: E402
from parcelguard.reveal.guard import Containments, Guard, GuardConfig, MemoryNotifier  # noqa: E402
from parcelguard.reveal.guard.counters_redis import RedisCounters  # noqa: E402
from parcelguard.reveal.guard.counters_store import StoreCounters  # noqa: E402
from parcelguard.reveal.service import RevealService  # noqa: E402

ROOMY = GuardConfig(quotas={"courier": (100_000, 100_000, 100_000)}, step_up_new_network=False)


def requests_of(plan: list[tuple[str, str, bool]]) -> list[RevealRequest]:
    out = []
    for n, (token, body, _) in enumerate(plan):
        claims = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
        fields = json.loads(body)
        out.append(
            RevealRequest(
                claims["sub"],
                fields["waybill_no"],
                fields["field"],
                fields["purpose"],
                device_id=claims["dev"],
                channel="handheld",
                ip=f"10.8.{n % 200}.7",
                request_id=f"bench-{n}",
            )
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2_000, help="requests per variant")
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pg-guard-bench-"))
    env = {
        "PARCELGUARD_HOME": str(work / "home"),
        "PARCELGUARD_KEK": base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    built = build_store(env, 200, 10)
    requests = requests_of(built["plan"])  # type: ignore[arg-type]
    settings = Settings.from_env(env)
    base: RevealService = open_reveal_service(settings, regime="guarded")
    base.guard = None
    for start in range(0, 6_000, 200):  # bind the virtual numbers first, as a morning does
        base.reveal_batch(requests[start : start + 200])
    variants: dict[str, RevealService] = {"none": base}
    store = open_reveal_service(settings)
    store.guard = Guard(
        StoreCounters(store.engine, flushed_by_a_later_commit=True),
        Containments(store.engine),
        ROOMY,
        notifier=MemoryNotifier(),
    )
    variants["store"] = store
    try:
        redis_counters = RedisCounters.from_url("redis://127.0.0.1:6379/0")
        redis_counters.observe({"bench-probe": {"sensitive": 1}}, int(time.time()))
        redis = open_reveal_service(settings)
        redis.guard = Guard(
            redis_counters, Containments(redis.engine), ROOMY, notifier=MemoryNotifier()
        )
        variants["redis"] = redis
    except Exception as exc:  # the bench still reports the store figures
        print(f"Redis skipped ({type(exc).__name__}); start it with `redis-server --daemonize yes`")
    times: dict[str, list[float]] = {name: [] for name in variants}
    position = 6_000
    for _ in range(args.n // args.batch):
        for name, service in variants.items():
            batch = requests[position % len(requests) : position % len(requests) + args.batch]
            began = time.perf_counter()
            service.reveal_batch(batch)
            times[name].append((time.perf_counter() - began) * 1000 / len(batch))
        position += args.batch
    medians = {name: statistics.median(values) for name, values in times.items()}
    figures: dict[str, float] = {"none_median_ms": round(medians["none"], 3)}
    for name in ("store", "redis"):
        if name in medians:
            figures[f"guard_{name}_median_ms"] = round(medians[name], 3)
            figures[f"guard_{name}_added_median_ms"] = round(medians[name] - medians["none"], 3)
            figures[f"guard_{name}_vs_none_ratio"] = round(medians[name] / medians["none"], 3)
    for name, value in medians.items():
        print(f"{name:>6}: median {value:.3f} ms per reveal (batch {args.batch})")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
