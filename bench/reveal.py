"""Benchmark the one door in process: reveal decisions per second, audit append included.

Run ``.venv/bin/python bench/reveal.py [--employees N] [--per-day W] [--days D] [--batch B]``.
A simulated world (the simulator's honest activity and the Jingzhou scenario) is loaded into a
fresh SQLite store: waybills into the vault, workflow facts, a virtual-number pool. Its
``reveal`` accesses are then replayed, in time order and in batches of B, through
``RevealService.reveal_batch``: facts, Cedar, virtual-number binding, masks or decryption,
and the audit append (one transaction per batch), as the live simulation and a busy server
drive it.

Baseline in the same run: the Cedar decision alone (``PolicyEngine.decide``) for the same
requests with their facts already gathered. Last line: one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import resource
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from pathlib import Path

import pyarrow.compute as pc

from parcelguard.admin import initialise, key_provider, open_audit_log, open_reveal_service
from parcelguard.audit.entry import AuditEntry
from parcelguard.audit.group_commit import GroupCommitter
from parcelguard.config import Settings
from parcelguard.reveal.engine import CedarRequest, PolicyWorker
from parcelguard.reveal.facts import Facts, RevealRequest, gather_many
from parcelguard.reveal.service import RevealDecision
from parcelguard.simulate.into_store import put_world
from parcelguard.simulate.run import simulate
from parcelguard.simulate.workflow import put_workflow
from parcelguard.simulate.world import WorldConfig
from parcelguard.vnum import VirtualNumbers
from parcelguard.vnum.numbers import pool_numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--employees", type=int, default=2_000)
    parser.add_argument("--per-day", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument(
        "--workers", type=int, default=1, help="threads calling reveal_batch, group commit"
    )
    parser.add_argument(
        "--pipeline",
        action="store_true",
        help="reveal_stream: Cedar in a worker process, one batch ahead",
    )
    args = parser.parse_args()
    config = WorldConfig(
        seed=77, days=args.days, employees=args.employees, waybills_per_day=args.per_day
    )
    tables = simulate(config, ["jingzhou-2016"])
    accesses = tables["accesses"].filter(pc.equal(tables["accesses"]["action"], "reveal"))
    with tempfile.TemporaryDirectory(prefix="parcelguard-reveal-") as tmp:
        env = {
            "PARCELGUARD_HOME": str(Path(tmp) / "home"),
            "PARCELGUARD_KEK": base64.b64encode(os.urandom(32)).decode(),
        }
        settings = Settings.from_env(env)
        initialise(settings)
        put_world(tables, config.seed, settings, key_provider(settings))
        rows = accesses.to_pylist()
        moments = [row["ts"].astimezone(UTC) for row in rows]
        clock_at = {"now": moments[0]}
        service = open_reveal_service(settings, clock=lambda: clock_at["now"])
        put_workflow(service.engine, tables)
        VirtualNumbers(service.engine).provision(pool_numbers("1709", 200_000, seed=1))
        requests = [
            RevealRequest(
                actor=row["employee_id"],
                waybill_no=row["waybill_no"],
                field=row["field"] or "phone",
                purpose=row["purpose"] or "other",
                device_id=row["device_id"],
                channel=row["channel"],
                ip=row["ip"],
                request_id=row["event_id"],
            )
            for row in rows
        ]
        outcomes: Counter[str] = Counter()
        committer = GroupCommitter(open_audit_log(settings))

        def durable(entries: Sequence[AuditEntry]) -> list[int]:
            receipts = [committer.submit(entry) for entry in entries]
            return [receipt.result() for receipt in receipts]

        if args.workers > 1:  # as a server: concurrent batches share audit transactions
            service = open_reveal_service(
                settings, clock=lambda: clock_at["now"], audit_append=durable
            )
        batches = [
            (start, requests[start : start + args.batch])
            for start in range(0, len(requests), args.batch)
        ]

        def decide(batch: tuple[int, list[RevealRequest]]) -> list[RevealDecision]:
            start, part = batch
            clock_at["now"] = moments[min(start + args.batch, len(requests)) - 1]
            return service.reveal_batch(part)

        def timed(batch: tuple[int, list[RevealRequest]]) -> list[RevealRequest]:
            start, part = batch
            clock_at["now"] = moments[min(start + args.batch, len(requests)) - 1]
            return part

        worker = PolicyWorker(settings.policy_dir) if args.pipeline else None
        began = time.perf_counter()
        if worker is not None:
            stream = service.reveal_stream((timed(b) for b in batches), worker)
        else:
            stream = ThreadPoolExecutor(args.workers).map(decide, batches)
        for decisions in stream:
            for decision in decisions:
                outcomes[("allow " if decision.allowed else "deny ") + decision.reason] += 1
        reveal_s = time.perf_counter() - began
        if worker is not None:
            worker.close()
        committer.close()

        cedar: list[CedarRequest] = []
        with service.engine.connect() as conn:
            for start in range(0, len(requests), args.batch):
                part = requests[start : start + args.batch]
                now = moments[min(start + args.batch, len(requests)) - 1]
                for request, facts in zip(part, gather_many(conn, part, now), strict=True):
                    if isinstance(facts, Facts):
                        cedar.append(
                            CedarRequest(
                                request.actor,
                                facts.principal_attrs(),
                                request.waybill_no,
                                facts.resource_attrs(),
                                facts.context(request, int(now.timestamp())),
                            )
                        )
        began = time.perf_counter()
        for start in range(0, len(cedar), args.batch):
            service.policies.decide(cedar[start : start + args.batch])
        cedar_s = time.perf_counter() - began
        size = (
            service.engine.connect().exec_driver_sql("SELECT COUNT(*) FROM audit_entries").scalar()
        )
        service.engine.dispose()
    n = len(requests)
    figures = {
        "decisions": n,
        "workers": args.workers,
        "pipeline": args.pipeline,
        "reveal_decisions_per_s": round(n / reveal_s),
        "cedar_only_per_s": round(len(cedar) / cedar_s),
        "reveal_vs_cedar_ratio": round((reveal_s / n) / (cedar_s / len(cedar)), 2),
        "allowed_ratio": round(sum(v for k, v in outcomes.items() if k.startswith("allow")) / n, 4),
        "audited_ratio": round((size or 0) / n, 4),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(f"{n:,} simulated reveal accesses replayed in batches of {args.batch}")
    for outcome, count in outcomes.most_common():
        print(f"  {count:>8,}  {outcome}")
    print(
        f"reveal {figures['reveal_decisions_per_s']:,}/s (facts, Cedar, virtual numbers, values, "
        f"audit) vs Cedar alone {figures['cedar_only_per_s']:,}/s"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
