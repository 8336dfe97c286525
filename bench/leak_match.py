"""Benchmark leak matching and attribution at a carrier's scale, against per-person lookups.

Run it as ``.venv/bin/python bench/leak_match.py`` (defaults: 1,000,000 waybills in a fresh
SQLite store, 1,000,000 audit entries, a case of 1,000,000 persons of whom 70 % are our
recipients). What is measured, in the same run:

* ``match_s``: :func:`parcelguard.forensics.match.find_matches` as it runs by default
  (``auto``: at this size, a sequential read of the store kept where the phone is the
  case's), and ``index_join_s``: the same with ``strategy="join"`` (the case's phone indexes
  in a TEMP table 50,000 at a time, joined along ``waybills.phone_bidx``);
* ``attribute_s``: reading the whole audit log for the matched waybills' reveals and
  attributing every matched person (:func:`attribute_in_store`);
* the baseline, ``baseline_lookup_ms``: ``Vault.find_by_phone`` per person on a sample
  (what an investigator without bulk matching would script), extrapolated to the case as
  ``baseline_case_s``; ``speedup_ratio`` = ``baseline_case_s / match_s``;
* an alternative design, ``stream_join_s``: read every stored waybill's phone index and the
  columns the match reads out of the database and join them with the case in Polars (no
  chunking: its memory grows with the store); ``stream_vs_match_ratio`` =
  ``stream_join_s / match_s``.

Human-readable lines go to stdout as the run goes; the last line is one JSON object whose
keys end in ``_per_s``, ``_s``, ``_ms``, ``_mib`` or ``_ratio``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pyarrow as pa

from parcelguard.admin import initialise, open_audit_log, open_vault
from parcelguard.audit.entry import AuditEntry
from parcelguard.config import Settings
from parcelguard.core.names import normalise_name
from parcelguard.core.phone import normalise_cn_mobile
from parcelguard.forensics.attribute import attribute_in_store, policy_forms, snapshot
from parcelguard.forensics.case import PERSONS_SCHEMA
from parcelguard.forensics.match import find_matches
from parcelguard.simulate.recipients import synthetic_waybills
from parcelguard.simulate.reference import sample_phones
from parcelguard.storage import connect_current
from parcelguard.storage.bulk import driver_rows


def _say(text: str) -> None:
    print(text, flush=True)


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="waybills in the store")
    parser.add_argument("--persons", type=int, default=1_000_000, help="persons in the case")
    parser.add_argument("--ours", type=float, default=0.7, help="share of persons who are ours")
    parser.add_argument("--log-n", type=int, default=1_000_000, help="audit entries")
    parser.add_argument("--sample", type=int, default=2_000, help="baseline lookups")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="pg-leak-bench-") as home:
        settings = Settings.from_env(
            {"PARCELGUARD_HOME": home, "PARCELGUARD_KEK": base64.b64encode(os.urandom(32)).decode()}
        )
        initialise(settings)
        vault = open_vault(settings)
        start = datetime.now(UTC) - timedelta(days=2)
        recipients: list[tuple[str, str, str]] = []  # waybill, name, phone (kept in memory only)
        started = time.perf_counter()
        for first in range(0, args.n, 100_000):
            batch = list(
                synthetic_waybills(
                min(100_000, args.n - first), seed=first, start=start, span=timedelta(days=2),
                first_serial=first,
                )
            )  # fmt: skip
            vault.put(batch)
            recipients += [(w.waybill_no, w.recipient_name, w.recipient_phone) for w in batch]
        put_s = time.perf_counter() - started
        _say(f"put {args.n:,} waybills in {put_s:.1f} s")

        # The audit log: one clerk revealing 50,000 records, the rest of the staff's routine.
        rng = random.Random(5)
        now = datetime.now(UTC)
        log = open_audit_log(settings)
        started = time.perf_counter()
        clerk_share = min(50_000, args.log_n // 4)
        for first in range(0, args.log_n, 50_000):
            entries = []
            for i in range(first, min(first + 50_000, args.log_n)):
                waybill = recipients[rng.randrange(len(recipients))][0]
                actor = "E-CLERK" if i < clerk_share else f"E{rng.randrange(5_000):05d}"
                entries.append(
                    AuditEntry.at(
                        0, now - timedelta(hours=1), actor=actor, action="reveal",
                        waybill_no=waybill, field="phone", purpose="exception",
                        decision="allow", reason="legacy_lookup",
                        policy_id="legacy-nationwide-lookup",
                    )
                )  # fmt: skip
            log.append(entries)
        log.engine.dispose()
        _say(f"appended {args.log_n:,} audit entries in {time.perf_counter() - started:.1f} s")

        # The case: our recipients (name and phone) and strangers (phone only).
        indexer = vault.blind_indexer
        ours = int(args.persons * args.ours)
        picked = rng.sample(range(len(recipients)), min(ours, len(recipients)))
        phone_idx, name_idx = [], []
        for i in picked:
            _, name, phone = recipients[i]
            p = normalise_cn_mobile(phone)
            phone_idx.append(indexer.phone(p))
            name_idx.append(indexer.name_phone(normalise_name(name), p))
        strangers = sample_phones(
            np.random.default_rng(77), np.array(["湖北"] * (args.persons - len(picked)))
        )
        phone_idx += [indexer.phone(str(p)) for p in strangers]
        name_idx += [None] * len(strangers)
        n = len(phone_idx)
        persons = pa.table(
            {
                "person_id": pa.array(range(n), pa.int64()),
                "phone_bidx": pa.array(phone_idx, pa.binary(16)),
                "name_phone_bidx": pa.array(name_idx, pa.binary(16)),
                "id_digest": pa.nulls(n, pa.binary(16)),
                "phone_masked": pa.nulls(n, pa.string()),
                "name_masked": pa.nulls(n, pa.string()),
                "adcode": pa.nulls(n, pa.string()),
                "virtual_number": pa.nulls(n, pa.string()),
                "waybill_no": pa.nulls(n, pa.string()),
                "rows": pa.array([1] * n, pa.int32()),
                "first_row": pa.array(range(2, n + 2), pa.int64()),
            },
            schema=PERSONS_SCHEMA,
        )
        first_seen = datetime.now(UTC)
        engine = connect_current(settings.db_url)
        forms = policy_forms([settings.policy_dir])

        rss_before = _rss_mib()
        with snapshot(engine) as conn:
            started = time.perf_counter()
            joined = find_matches(conn, persons, first_seen, strategy="join")
            join_s = time.perf_counter() - started
            started = time.perf_counter()
            matches = find_matches(conn, persons, first_seen)  # auto: the scan at this size
            match_s = time.perf_counter() - started
            started = time.perf_counter()
            attribution = attribute_in_store(conn, matches, forms)
            attribute_s = time.perf_counter() - started
        assert joined.pairs.num_rows == matches.pairs.num_rows
        matched = matches.real().get_column("person_id").n_unique()
        _say(
            f"matched {matched:,} of {n:,} persons ({matches.pairs.num_rows:,} pairs) in "
            f"{match_s:.2f} s (index join {join_s:.2f} s); attributed in {attribute_s:.2f} s "
            f"({attribution.log_size:,} entries read, {attribution.reveals_read:,} reveals kept); "
            f"top account {attribution.accounts[0].employee_id} alone explains "
            f"{attribution.accounts[0].alone:,}"
        )

        # Baseline: one lookup per person through the vault, on a sample.
        sample = rng.sample(picked, min(args.sample, len(picked)))
        times = []
        for i in sample:
            t0 = time.perf_counter()
            vault.find_by_phone(recipients[i][2])
            times.append(time.perf_counter() - t0)
        lookup_ms = statistics.median(times) * 1000
        baseline_case_s = statistics.fmean(times) * n
        _say(
            f"baseline find_by_phone: median {lookup_ms:.3f} ms a person, {baseline_case_s:.0f} s for the case"
        )

        # Alternative: stream the store's rows (the same columns the match reads) out of the
        # database and join them with the case in Polars.
        started = time.perf_counter()
        with engine.connect() as conn:
            rows = driver_rows(
                conn,
                "SELECT phone_bidx, name_phone_bidx, waybill_no, created_at, sender_id, "
                "category, dest_adcode FROM waybills WHERE phone_bidx IS NOT NULL",
            )
        columns = list(zip(*rows, strict=True))
        store = pl.DataFrame(
            {
                "phone_bidx": pl.Series([bytes(v) for v in columns[0]], dtype=pl.Binary),
                "name_phone": pl.Series([bytes(v) for v in columns[1]], dtype=pl.Binary),
                **{
                    name: pl.Series(list(values), dtype=pl.String)
                    for name, values in zip(
                        ("waybill_no", "created_at", "sender_id", "category", "dest_adcode"),
                        columns[2:],
                        strict=True,
                    )
                },
            }
        )
        case = pl.DataFrame({"person_id": list(range(n)), "phone_bidx": phone_idx},
                            schema={"person_id": pl.Int64, "phone_bidx": pl.Binary})  # fmt: skip
        streamed = case.join(store, on="phone_bidx").height
        stream_s = time.perf_counter() - started
        _say(f"stream-and-join alternative (same columns): {streamed:,} pairs in {stream_s:.2f} s")
        engine.dispose()
        vault.close()

    figures = {
        "put_s": round(put_s, 2),
        "match_s": round(match_s, 3),
        "index_join_s": round(join_s, 3),
        "join_vs_scan_ratio": round(join_s / match_s, 2),
        "attribute_s": round(attribute_s, 3),
        "match_attribute_s": round(match_s + attribute_s, 3),
        "match_persons_per_s": round(n / match_s),
        "log_scan_entries_per_s": round(attribution.log_size / attribute_s),
        "baseline_lookup_ms": round(lookup_ms, 4),
        "baseline_case_s": round(baseline_case_s, 1),
        "speedup_ratio": round(baseline_case_s / match_s, 1),
        "stream_join_s": round(stream_s, 3),
        "stream_vs_match_ratio": round(stream_s / match_s, 2),
        "matched_share_ratio": round(matched / n, 4),
        "peak_rss_mib": round(_rss_mib()),
        "rss_before_match_mib": round(rss_before),
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
