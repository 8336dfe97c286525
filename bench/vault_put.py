"""Benchmark the vault: put throughput and blind-index lookups, each against a baseline.

Run it as ``.venv/bin/python bench/vault_put.py`` (``make bench`` runs every ``bench/*.py``).
Every figure is measured against a baseline taken in the same run, on the same machine:

* put, SQLite and PostgreSQL: ``Vault.put`` of N synthetic waybills into a fresh store, against
  the same rows built by the same ``build_rows`` with a plaintext "sealer" and plaintext
  "indexes", inserted in chunks of 5,000 in one transaction through the same driver-level
  ``insert_rows`` into another fresh store of the same backend (same engine setup, same
  schema, same indexes);
* lookup, SQLite: ``Vault.find_by_phone`` on a store of ``--lookup-n`` waybills, against a
  primary-key lookup of a waybill number through the same engine.

Human-readable lines go to stdout as the run goes; the last line is one JSON object with the
figures (every key ends in ``_per_s``, ``_ms``, ``_s``, ``_mib`` or ``_ratio``).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import random
import resource
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from parcelguard.admin.initialise import initialise, open_vault
from parcelguard.config import Settings
from parcelguard.core.clock import carrier_day, utc_now
from parcelguard.core.waybill import NewWaybill
from parcelguard.simulate.recipients import synthetic_waybills
from parcelguard.storage import begin_write, connect_store
from parcelguard.storage.bulk import datetime_stamp, gc_paused, insert_rows, insert_sql
from parcelguard.storage.schema import data_keys, waybills
from parcelguard.vault import Vault
from parcelguard.vault.fields import Field
from parcelguard.vault.rows import ROW_COLUMNS, build_rows

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PLAIN_CHUNK = 5_000  # the chunk size Vault.put writes in (store.CHUNK)
PLAIN_KEY_ID = "plaintext-baseline"
LOOKUP_BATCH = 100_000
LOOKUP_SAMPLES = 1_000
LOOKUP_WARMUP = 20

TARGET_PUT_PER_S = 50_000.0
TARGET_PUT_RATIO = 2.5
TARGET_LOOKUP_MEDIAN_MS = 1.0

Figures = dict[str, float]


# -- plaintext stand-ins for the cryptography, same signatures as the real ones ---------------


def plain_seal(waybill_no: str, field: Field, text: str) -> bytes:
    return text.encode()


def plain_phone_index(phone: str) -> bytes:
    return phone.encode()


def plain_name_phone_index(name: str, phone: str) -> bytes:
    return (name + "|" + phone).encode()


# -- helpers ----------------------------------------------------------------------------------


def say(message: str) -> None:
    print(message, flush=True)


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def mark(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def bench_env(home: Path, db_url: str | None = None) -> dict[str, str]:
    env = {
        "PARCELGUARD_HOME": str(home),
        "PARCELGUARD_KEK": base64.b64encode(secrets.token_bytes(32)).decode("ascii"),
    }
    if db_url is not None:
        env["PARCELGUARD_DB"] = db_url
    return env


def fresh_store(home: Path, db_url: str | None = None) -> Settings:
    """A newly initialised store (schema, blind-index key) with an environment KEK."""
    settings = Settings.from_env(bench_env(home, db_url))
    initialise(settings)
    return settings


def make_batch(count: int, seed: int, first_serial: int = 0) -> list[NewWaybill]:
    """``count`` waybills created over the last day (well inside the retention period)."""
    now = utc_now()
    return list(
        synthetic_waybills(
            count,
            seed=seed,
            start=now - timedelta(hours=23),
            span=timedelta(hours=22),
            first_serial=first_serial,
        )
    )


def count_waybills(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        total: int = conn.execute(sa.select(sa.func.count()).select_from(waybills)).scalar_one()
    return total


def sqlite_file_mib(db_url: str) -> float:
    """The database file plus its WAL, in MiB."""
    path = Path(sa.make_url(db_url).database or "")
    size = sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists())
    return size / 2**20


# -- put: encrypted vs plaintext ----------------------------------------------------------------


def time_vault_put(settings: Settings, batch: list[NewWaybill]) -> float:
    vault = open_vault(settings)
    try:
        started = time.perf_counter()
        result = vault.put(batch)
        elapsed = time.perf_counter() - started
        if result.waybills != len(batch) or count_waybills(vault.engine) != len(batch):
            raise RuntimeError("the vault did not store every waybill of the batch")
    finally:
        vault.close()
    return elapsed


def time_plain_put(settings: Settings, batch: list[NewWaybill]) -> float:
    """The baseline: build_rows with plaintext stand-ins, inserted in one transaction."""
    engine = connect_store(settings.db_url)
    try:
        now = utc_now()
        started = time.perf_counter()
        with gc_paused(), begin_write(engine) as conn:
            conn.execute(
                data_keys.insert().values(
                    key_id=PLAIN_KEY_ID,
                    key_day=carrier_day(now),
                    kek_id="none",
                    wrapped_key=None,
                    encryptions=0,
                    created_at=now,
                )
            )
            stamp = datetime_stamp(conn)
            sql = insert_sql(conn, waybills, ROW_COLUMNS)
            for start in range(0, len(batch), PLAIN_CHUNK):
                rows = build_rows(
                    batch[start : start + PLAIN_CHUNK],
                    PLAIN_KEY_ID,
                    plain_seal,
                    plain_phone_index,
                    plain_name_phone_index,
                    stamp,
                )
                insert_rows(conn, sql, rows)
        elapsed = time.perf_counter() - started
        if count_waybills(engine) != len(batch):
            raise RuntimeError("the plaintext baseline did not store every row")
    finally:
        engine.dispose()
    return elapsed


def compare_puts(
    label: str,
    prefix: str,
    batch: list[NewWaybill],
    store: Callable[[str], Settings],
    figures: Figures,
    repeat: int,
) -> tuple[Settings, Settings]:
    """Alternate baseline and vault puts ``repeat`` times on fresh stores; compare medians.

    The machine is shared and its speed drifts within a run; alternating the two and taking
    medians keeps the drift out of the ratio.
    """
    n = len(batch)
    plain_times, put_times = [], []
    stores: tuple[Settings, Settings] | None = None
    for i in range(repeat):
        plain_settings, vault_settings = store(f"plain-{i}"), store(f"vault-{i}")
        plain_times.append(time_plain_put(plain_settings, batch))
        put_times.append(time_vault_put(vault_settings, batch))
        say(
            f"{label} round {i + 1}: plaintext {rate(n, plain_times[-1]):,.0f}/s, "
            f"Vault.put {rate(n, put_times[-1]):,.0f}/s"
        )
        stores = (vault_settings, plain_settings)
    plain_s, put_s = statistics.median(plain_times), statistics.median(put_times)
    per_s, ratio = rate(n, put_s), put_s / plain_s
    say(
        f"{label} plaintext baseline: {n:,} rows, median {plain_s:.2f} s = {rate(n, plain_s):,.0f}/s"
    )
    say(f"{label} Vault.put:          {n:,} waybills, median {put_s:.2f} s = {per_s:,.0f}/s")
    say(
        f"{label} encrypted / plaintext time: {ratio:.2f} "
        f"(target <= {TARGET_PUT_RATIO}: {mark(ratio <= TARGET_PUT_RATIO)})"
    )
    figures[f"{prefix}_put_per_s"] = round(per_s)
    figures[f"{prefix}_put_s"] = round(put_s, 3)
    figures[f"{prefix}_plain_put_per_s"] = round(rate(n, plain_s))
    figures[f"{prefix}_plain_put_s"] = round(plain_s, 3)
    figures[f"{prefix}_put_vs_plain_ratio"] = round(ratio, 3)
    assert stores is not None
    return stores


def bench_sqlite_put(root: Path, n: int, figures: Figures, repeat: int) -> None:
    say(f"\n== put on SQLite, N = {n:,}, {repeat} alternating rounds")
    batch = make_batch(n, seed=1)
    vault_settings, plain_settings = compare_puts(
        "sqlite",
        "sqlite",
        batch,
        lambda name: fresh_store(root / f"sqlite-{name}"),
        figures,
        repeat,
    )
    per_s = figures["sqlite_put_per_s"]
    say(f"sqlite put rate target >= {TARGET_PUT_PER_S:,.0f}/s: {mark(per_s >= TARGET_PUT_PER_S)}")
    vault_mib = sqlite_file_mib(vault_settings.db_url)
    plain_mib = sqlite_file_mib(plain_settings.db_url)
    say(f"sqlite store size: vault {vault_mib:.1f} MiB, plaintext {plain_mib:.1f} MiB")
    figures["sqlite_db_mib"] = round(vault_mib, 1)
    figures["sqlite_plain_db_mib"] = round(plain_mib, 1)


def bench_postgres_put(
    root: Path, n: int, base_url: str, figures: Figures, *, required: bool, repeat: int
) -> None:
    say(f"\n== put on PostgreSQL, N = {n:,}, {repeat} alternating rounds")
    admin_url = sa.make_url(base_url).update_query_dict({"connect_timeout": "5"})
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            version = conn.exec_driver_sql("SHOW server_version").scalar_one()
    except sa.exc.OperationalError as exc:
        admin.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "no answer"
        if required:
            raise SystemExit(
                f"PostgreSQL at {base_url} is required but unreachable: {reason}"
            ) from None
        say(f"note: PostgreSQL at {base_url} is unreachable ({reason}); skipping it")
        return
    say(f"PostgreSQL {version}")
    schemas: list[str] = []

    def store(name: str) -> Settings:
        schema = f"bench_{secrets.token_hex(6)}"
        schemas.append(schema)
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = sa.make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
        return fresh_store(root / f"pg-{name}", url.render_as_string(hide_password=False))

    try:
        compare_puts("pg", "pg", make_batch(n, seed=2), store, figures, repeat)
    finally:
        with admin.connect() as conn:
            for schema in schemas:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


# -- lookup: blind index vs primary key ---------------------------------------------------------


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


def fill_vault(vault: Vault, n: int) -> tuple[list[tuple[str, str]], float]:
    """Put ``n`` waybills in batches; returns sampled (phone, waybill_no) pairs and put seconds."""
    wanted = set(random.Random(7).sample(range(n), min(LOOKUP_SAMPLES, n)))
    known: list[tuple[str, str]] = []
    put_s = 0.0
    for first in range(0, n, LOOKUP_BATCH):
        batch = make_batch(min(LOOKUP_BATCH, n - first), seed=100 + first, first_serial=first)
        known.extend(
            (w.recipient_phone, w.waybill_no)
            for i, w in enumerate(batch, start=first)
            if i in wanted
        )
        started = time.perf_counter()
        vault.put(batch)
        elapsed = time.perf_counter() - started
        put_s += elapsed
        say(f"  put {first + len(batch):>9,} stored: {rate(len(batch), elapsed):,.0f}/s")
        del batch
    random.Random(8).shuffle(known)
    return known, put_s


def bench_lookup(root: Path, n: int, figures: Figures) -> None:
    say(f"\n== blind-index lookup on SQLite, {n:,} waybills stored")
    settings = fresh_store(root / "sqlite-lookup")
    vault = open_vault(settings)
    try:
        known, put_s = fill_vault(vault, n)
        say(f"filled in {put_s:.1f} s of Vault.put ({rate(n, put_s):,.0f}/s, batches of 100,000)")
        figures["lookup_fill_put_per_s"] = round(rate(n, put_s))

        def pk_lookup(no: str) -> list[str]:
            """find_by_phone's code path with the primary key for the blind index."""
            with vault.engine.connect() as conn:
                rows = conn.execute(
                    sa.select(waybills.c.waybill_no).where(waybills.c.waybill_no == no)
                )
                return [row.waybill_no for row in rows]

        for phone, no in known[:LOOKUP_WARMUP]:  # compile statements, warm the pool
            vault.find_by_phone(phone)
            pk_lookup(no)
        phone_ms, pk_ms = [], []
        misses = 0
        for phone, no in known:  # interleaved, so drift hits both alike
            started = time.perf_counter_ns()
            found = vault.find_by_phone(phone)
            phone_ms.append((time.perf_counter_ns() - started) / 1e6)
            started = time.perf_counter_ns()
            pk_lookup(no)
            pk_ms.append((time.perf_counter_ns() - started) / 1e6)
            misses += no not in found
        if misses:
            raise RuntimeError(f"{misses} of {len(known)} stored phones were not found")
    finally:
        vault.close()
    median, tail = statistics.median(phone_ms), p99(phone_ms)
    pk_median, pk_tail = statistics.median(pk_ms), p99(pk_ms)
    ratio = median / pk_median
    say(
        f"find_by_phone over {len(known):,} stored phones: median {median:.3f} ms, p99 {tail:.3f} ms"
    )
    say(f"primary-key lookup baseline:        median {pk_median:.3f} ms, p99 {pk_tail:.3f} ms")
    say(
        f"find_by_phone / primary key (median): {ratio:.2f}; median target <= "
        f"{TARGET_LOOKUP_MEDIAN_MS} ms: {mark(median <= TARGET_LOOKUP_MEDIAN_MS)}"
    )
    figures["lookup_median_ms"] = round(median, 4)
    figures["lookup_p99_ms"] = round(tail, 4)
    figures["pk_lookup_median_ms"] = round(pk_median, 4)
    figures["pk_lookup_p99_ms"] = round(pk_tail, 4)
    figures["lookup_vs_pk_ratio"] = round(ratio, 3)


# -- main -----------------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=200_000, help="waybills per SQLite put")
    parser.add_argument("--pg-n", type=int, default=50_000, help="waybills per PostgreSQL put")
    parser.add_argument(
        "--lookup-n", type=int, default=1_000_000, help="waybills stored for lookups (0: skip)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="alternating baseline/vault rounds per backend"
    )
    parser.add_argument("--pg-url", default=PG_URL, help="PostgreSQL database to use")
    parser.add_argument("--skip-postgres", action="store_true", help="do not touch PostgreSQL")
    parser.add_argument(
        "--require-postgres", action="store_true", help="fail if PostgreSQL is unreachable"
    )
    args = parser.parse_args(argv)
    if args.n < 1 or args.pg_n < 1 or args.repeat < 1 or args.lookup_n < 0:
        parser.error("--n, --pg-n and --repeat must be positive, --lookup-n not negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    figures: Figures = {}
    say(
        f"parcelguard vault benchmark: {os.cpu_count()} CPUs ({cpu_model()}), "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"SQLAlchemy {sa.__version__}"
    )
    with tempfile.TemporaryDirectory(prefix="parcelguard-bench-") as tmp:
        root = Path(tmp)
        say(f"stores under {root}")
        bench_sqlite_put(root, args.n, figures, args.repeat)
        if not args.skip_postgres:
            bench_postgres_put(
                root,
                args.pg_n,
                args.pg_url,
                figures,
                required=args.require_postgres,
                repeat=args.repeat,
            )
        if args.lookup_n:
            bench_lookup(root, args.lookup_n, figures)
    figures["total_s"] = round(time.perf_counter() - started, 1)
    figures["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    say(f"\ntotal {figures['total_s']} s, peak RSS {figures['peak_rss_mib']} MiB")
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
