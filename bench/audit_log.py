"""Benchmark the audit log: appends, proofs and full verification, each against a baseline.

Run ``.venv/bin/python bench/audit_log.py [--n N] [--batch B]`` (``make bench`` runs every
``bench/*.py``). Figures, each with its same-run baseline:

* append: N entries in batches of B (one transaction per batch), against inserting the same
  entry bytes in the same batches without hashing or subtree rows;
* group commit: single-entry appends through ``GroupCommitter`` as a server with W requests in
  flight makes them (each request submits one entry and waits until it is durable), and as 32
  threads appending synchronously; same raw-insert baseline;
* proof: median and p99 of ``AuditLog.prove`` at size N after 2,000 warm-up proofs, against
  reading one entry by key;
* verify: ``AuditLog.verify`` of all N entries, against hashlib hashing the same bytes.

Last line: one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import random
import resource
import statistics
import tempfile
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from parcelguard.admin import initialise, open_audit_log
from parcelguard.audit.entry import AuditEntry, encode_entry
from parcelguard.audit.group_commit import GroupCommitter, Receipt
from parcelguard.config import Settings
from parcelguard.storage import begin_write
from parcelguard.storage.bulk import insert_rows, insert_sql
from parcelguard.storage.schema import audit_entries

START = datetime(2016, 10, 3, tzinfo=UTC)


def make_entries(n: int) -> list[AuditEntry]:
    rng = random.Random(5)
    return [
        AuditEntry.at(
            0,
            START + timedelta(milliseconds=i * 37),
            actor=f"E{rng.randrange(20_000):06d}",
            action="reveal",
            waybill_no=f"PG{316_500_000_000 + rng.randrange(10**9):012d}",
            field="phone",
            purpose="delivery",
            decision="allow",
            reason="assigned",
            request_id=f"r{i:010d}",
            channel="handheld",
            device=f"H{rng.randrange(20_000):06d}",
        )
        for i in range(n)
    ]


def store(root: Path, name: str) -> Settings:
    env = {
        "PARCELGUARD_HOME": str(root / name),
        "PARCELGUARD_KEK": base64.b64encode(os.urandom(32)).decode(),
    }
    settings = Settings.from_env(env)
    initialise(settings)
    return settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--in-flight", type=int, default=4_096, help="open requests (W)")
    args = parser.parse_args()
    n, batch = args.n, args.batch
    entries = make_entries(n)
    with tempfile.TemporaryDirectory(prefix="parcelguard-audit-") as tmp:
        root = Path(tmp)
        log = open_audit_log(store(root, "log"))
        began = time.perf_counter()
        for start in range(0, n, batch):
            log.append(entries[start : start + batch])
        append_s = time.perf_counter() - began

        group_n = min(n, 200_000)
        group_log = open_audit_log(store(root, "group"))
        with GroupCommitter(group_log) as committer:
            began = time.perf_counter()
            in_flight: deque[Receipt] = deque()
            for entry in entries[:group_n]:
                in_flight.append(committer.submit(entry))
                if len(in_flight) >= args.in_flight:
                    in_flight.popleft().result()
            for done in in_flight:
                done.result()
            flight_s = time.perf_counter() - began
            flight_batches = committer.batches
        assert group_log.head().tree_size == group_n
        group_log.engine.dispose()

        threads_n = min(n, 20_000)
        threads_log = open_audit_log(store(root, "threads"))
        with GroupCommitter(threads_log) as committer, ThreadPoolExecutor(32) as pool:
            began = time.perf_counter()
            list(pool.map(committer.append, entries[:threads_n]))
            group_s = time.perf_counter() - began
            group_batches = committer.batches
        threads_log.engine.dispose()

        raw_engine = sa.create_engine(f"sqlite:///{store(root, 'raw').home / 'parcelguard.db'}")
        encoded = [encode_entry(e) for e in entries]
        began = time.perf_counter()
        for start in range(0, n, batch):
            with begin_write(raw_engine) as conn:
                rows = [(start + i, data) for i, data in enumerate(encoded[start : start + batch])]
                insert_rows(conn, insert_sql(conn, audit_entries, ("seq", "entry")), rows)
        raw_s = time.perf_counter() - began
        raw_engine.dispose()

        rng = random.Random(9)
        proof_ms, key_ms = [], []
        with log.engine.connect() as conn:
            for _ in range(2_000):  # warm up: a serving log has its upper levels in cache
                log.prove(rng.randrange(n), n)
            for _ in range(2_000):
                index = rng.randrange(n)
                t0 = time.perf_counter()
                log.prove(index, n)
                proof_ms.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                conn.execute(
                    sa.select(audit_entries.c.entry).where(audit_entries.c.seq == index)
                ).scalar()
                key_ms.append((time.perf_counter() - t0) * 1000)

        began = time.perf_counter()
        result = log.verify()
        verify_s = time.perf_counter() - began
        assert result.ok, result
        began = time.perf_counter()
        for data in encoded:
            hashlib.sha256(b"\x00" + data).digest()
        hash_s = time.perf_counter() - began
        log.engine.dispose()
    figures = {
        "append_per_s": round(n / append_s),
        "raw_insert_per_s": round(n / raw_s),
        "append_vs_raw_ratio": round(append_s / raw_s, 3),
        "group_commit_in_flight_per_s": round(group_n / flight_s),
        "group_commit_in_flight_vs_raw_ratio": round((flight_s / group_n) / (raw_s / n), 3),
        "group_commit_in_flight_entries_per_transaction_ratio": round(
            group_n / max(flight_batches, 1), 1
        ),
        "group_commit_32_threads_per_s": round(threads_n / group_s),
        "group_commit_32_threads_entries_per_transaction_ratio": round(
            threads_n / max(group_batches, 1), 1
        ),
        "proof_median_ms": round(statistics.median(proof_ms), 4),
        "proof_p99_ms": round(sorted(proof_ms)[int(len(proof_ms) * 0.99) - 1], 4),
        "key_read_median_ms": round(statistics.median(key_ms), 4),
        "proof_vs_key_read_ratio": round(
            statistics.median(proof_ms) / statistics.median(key_ms), 3
        ),
        "verify_s": round(verify_s, 2),
        "hash_only_s": round(hash_s, 3),
        "verify_vs_hash_ratio": round(verify_s / hash_s, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(f"{n:,} entries, batches of {batch:,}")
    print(f"append {figures['append_per_s']:,}/s vs raw insert {figures['raw_insert_per_s']:,}/s")
    print(
        f"group commit, {args.in_flight:,} requests in flight, one entry each: "
        f"{figures['group_commit_in_flight_per_s']:,}/s "
        f"({figures['group_commit_in_flight_entries_per_transaction_ratio']} per transaction)"
    )
    print(
        f"group commit, 32 threads appending one entry each: "
        f"{figures['group_commit_32_threads_per_s']:,}/s "
        f"({figures['group_commit_32_threads_entries_per_transaction_ratio']} per transaction)"
    )
    print(
        f"proof median {figures['proof_median_ms']} ms vs key read {figures['key_read_median_ms']} ms"
    )
    print(f"verify {figures['verify_s']} s vs hashing alone {figures['hash_only_s']} s")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
