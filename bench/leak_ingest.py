"""Benchmark leak ingest: ten million messy rows against the targets, recall against Presidio.

Run ``.venv/bin/python bench/leak_ingest.py`` (``make bench`` runs every ``bench/*.py``;
Presidio comes with the ``bench`` extra). Three parts, in one run, on one machine:

1. **Bulk.** The simulator's bulk writer puts ``--rows`` rows (default 10,000,000) of a messy
   GBK CSV in a temporary folder: odd headers, CRLF, phones in every spelling, ID numbers,
   duplicates, untrue rows, ragged rows, a truncated last line, with the exact truth.
2. **Ingest at scale.** ``ingest_file`` (a fresh random blind-index key, no case) runs on it
   in a child process, so its wall time and peak memory are its own: peak RSS of the largest
   process (``RUSAGE_CHILDREN``) and the summed PSS of the child and any workers it forks,
   sampled from ``/proc``. Targets: 60 s and 4 GiB. Its counts are compared with the truth
   (each ``*_count_ratio`` is found ÷ true, 1.0 when exact).
3. **Recall on a known sample.** ``--sample`` rows (default 20,000), messier: name, phone and
   address merged into one cell, every phone spelling equally often, ID numbers on 60 % of
   records. The same decoded lines go through Presidio's ``AnalyzerEngine`` with Chinese
   mobile and resident-ID ``PatternRecognizer``s equivalent to ours (same spellings, the
   project's phone normalisation and the GB 11643 check as ``validate_result``, a blank
   spaCy ``zh`` pipeline), through our recognisers one line at a time (``find``, the same
   job as Presidio's), through our recognisers as Polars expressions over the whole column
   (``extract``, what ingest runs), and through ``ingest_file`` on the file itself (persons
   checked by blind index against the truth). Recall and precision are per row: a row's
   true phone (ID number) is found or not; any other find is a false positive.

Human-readable lines go to stdout as the run goes; the last line is one JSON object whose
keys end in ``_per_s``, ``_ms``, ``_s``, ``_mib`` or ``_ratio``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow.compute as pc
import pyarrow.parquet as pq

from parcelguard.core.phone import InvalidPhone, normalise_cn_mobile
from parcelguard.forensics.case import CaseDir
from parcelguard.forensics.ingest import ingest_file
from parcelguard.forensics.recognisers import default_recognisers
from parcelguard.simulate.leak_file import (
    PHONE_SPELLINGS,
    LeakFileOptions,
    LeakTruth,
    RowKind,
    is_valid_id_number,
    synthetic_records,
    write_bulk_leak,
    write_leak_file,
)
from parcelguard.vault.blind_index import BlindIndexer

TARGET_INGEST_S = 60.0
TARGET_INGEST_MIB = 4096.0
MIB = 1024 * 1024

Figures = dict[str, float]
Finds = list[tuple[set[str], set[str]]]  # per row: (phones, ID numbers) found, normalised

# The child: ingest the file as `parcelguard leak ingest` would, without a case. Run as
# `-c`, it has no main module for the spawned workers to import again.
_CHILD = """
import json, os, resource, sys
from pathlib import Path
from parcelguard.forensics.ingest import ingest_file
from parcelguard.vault.blind_index import BlindIndexer
workers = None if sys.argv[2] == "default" else int(sys.argv[2])
report = ingest_file(Path(sys.argv[1]), indexer=BlindIndexer(os.urandom(32)), workers=workers)
print(json.dumps({"report": report.as_dict(),
                  "self_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def say(message: str) -> None:
    print(message, flush=True)


def mark(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def ratio(a: float, b: float) -> float:
    return round(a / b, 4) if b else float("nan")


# -- memory of a process tree -----------------------------------------------------------------


def _parents() -> dict[int, int]:
    """Every process's parent, from one pass over ``/proc``."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after its last ')'
        found[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    return found


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class TreeMemory:
    """Samples the summed PSS of a process and its descendants (shared pages counted once
    in proportion, so forked workers are not double-counted as RSS would be)."""

    # Once a second: reading smaps_rollup walks a multi-GB process's page tables under its
    # memory lock, so sampling costs the measured process; a peak lasts seconds anyway.
    def __init__(self, pid: int, every_s: float = 1.0) -> None:
        self.pid, self.every_s, self.peak_kib = pid, every_s, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            parents = _parents()
            tree, todo = [], [self.pid]
            while todo:
                pid = todo.pop()
                tree.append(pid)
                todo += [child for child, parent in parents.items() if parent == pid]
            self.peak_kib = max(self.peak_kib, sum(_pss_kib(p) for p in tree))
            self._stop.wait(self.every_s)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_kib / 1024


# -- part 1 and 2: the bulk file and ingest at scale ------------------------------------------


def bench_bulk(folder: Path, rows: int, seed: int, figures: Figures, *, baseline: bool) -> None:
    path = folder / "leak-bulk.csv"
    say(f"\n[1] writing {rows:,} messy GBK rows (bulk simulator) to {path}")
    began = time.perf_counter()
    step = max(rows // 5, 1)
    shown = [0]

    def progress(done: int) -> None:
        if done - shown[0] >= step or done >= rows:
            shown[0] = done
            say(f"    {done:,} rows, {time.perf_counter() - began:.1f} s")

    truth = write_bulk_leak(path, rows, seed=seed, options=LeakFileOptions(encoding="gbk"), progress=progress)  # fmt: skip
    write_s = time.perf_counter() - began
    size = path.stat().st_size
    figures["bulk_write_s"] = round(write_s, 1)
    figures["bulk_write_rows_per_s"] = round(rate(rows, write_s))
    figures["bulk_file_mib"] = round(size / MIB, 1)
    counts = truth.as_dict()
    say(f"    {write_s:.1f} s, {size / MIB:,.0f} MiB; truth: {counts['persons']:,} persons, "
        f"{counts['duplicate_rows']:,} duplicate rows, {counts['untrue_rows']:,} untrue rows, "
        f"{counts['ragged_rows']:,} ragged, truncated last line {counts['truncated_last_row']}")  # fmt: skip
    del truth

    say(f"\n[2] ingest_file on it in a child process (targets {TARGET_INGEST_S:.0f} s, {TARGET_INGEST_MIB:,.0f} MiB)")  # fmt: skip
    ingest_s, peak_mib, tree_mib, report = _ingest_in_child(path, "default")
    figures["ingest_s"] = round(ingest_s, 1)
    figures["ingest_rows_per_s"] = round(rate(rows, ingest_s))
    figures["ingest_peak_rss_mib"] = round(peak_mib)
    figures["ingest_tree_pss_mib"] = round(tree_mib)
    figures["ingest_target_s_ratio"] = ratio(ingest_s, TARGET_INGEST_S)
    figures["ingest_target_mib_ratio"] = ratio(max(peak_mib, tree_mib), TARGET_INGEST_MIB)
    compare_counts("ingest", report, counts, figures)
    notes = [n for n in report["notes"] if "worker" in n]
    say(f"    {ingest_s:.1f} s ({mark(ingest_s <= TARGET_INGEST_S)}), {rate(rows, ingest_s):,.0f} rows/s, "
        f"peak RSS {peak_mib:,.0f} MiB, tree PSS {tree_mib:,.0f} MiB "
        f"({mark(max(peak_mib, tree_mib) <= TARGET_INGEST_MIB)}); ingest's own clock {report['seconds']} s; "
        f"{notes[0] if notes else 'no workers'}")  # fmt: skip
    if baseline:
        say("\n[2b] the same in one process (--workers 0), the baseline of the workers")
        alone_s, alone_mib, alone_tree, alone = _ingest_in_child(path, "0")
        figures["one_process_ingest_s"] = round(alone_s, 1)
        figures["one_process_peak_rss_mib"] = round(alone_mib)
        figures["workers_speed_ratio"] = ratio(alone_s, ingest_s)
        same = {k: v for k, v in alone.items() if k not in ("seconds", "first_seen", "notes")}
        ours = {k: v for k, v in report.items() if k not in ("seconds", "first_seen", "notes")}
        figures["one_process_same_report_ratio"] = 1.0 if same == ours else 0.0
        say(f"    {alone_s:.1f} s, peak RSS {alone_mib:,.0f} MiB, tree PSS {alone_tree:,.0f} MiB; "
            f"workers {ratio(alone_s, ingest_s):.2f}x faster; reports {'equal' if same == ours else 'DIFFER'}")  # fmt: skip
    path.unlink()


def _ingest_in_child(path: Path, workers: str) -> tuple[float, float, float, dict[str, Any]]:
    """``ingest_file`` in a child process: wall seconds, its peak RSS, tree PSS, the report."""
    began = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path), workers],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    memory = TreeMemory(child.pid)
    out, err = child.communicate()
    seconds = time.perf_counter() - began
    tree_mib = memory.stop()
    if child.returncode != 0:
        raise SystemExit(f"ingest failed ({child.returncode}):\n{err[-3000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    # The largest process of the tree: the child itself (workers are smaller; the tree PSS
    # counts them too).
    peak_mib = result["self_maxrss_kib"] / 1024
    return seconds, peak_mib, tree_mib, result["report"]


def compare_counts(
    prefix: str, report: dict[str, object], truth: dict[str, object], figures: Figures
) -> None:
    """Ingest's counts against the truth: found ÷ true, printed side by side."""
    rejected = report["rows_rejected"]
    assert isinstance(rejected, dict)
    pairs = {
        "rows_read": (report["rows_read"], truth["rows"]),
        "persons": (report["person_records"], truth["persons"]),
        # ingest counts the truncated copy as a duplicate when it still holds the phone
        "duplicates": (report["duplicates_excluded"], truth["duplicate_rows"]),
        "untrue": (report["untrue_excluded"], truth["untrue_rows"]),
        "rejected": (rejected["total"], truth["untrue_rows"]),
    }
    for name, (found, true) in pairs.items():
        assert isinstance(found, int)
        assert isinstance(true, int)
        figures[f"{prefix}_{name}_count_ratio"] = ratio(found, true)
    say("    counts (found / true): " + ", ".join(f"{n} {f:,}/{t:,}" for n, (f, t) in pairs.items()))  # fmt: skip
    say(f"    rejected by reason: {rejected['by_reason']}")


# -- part 3: the sample, Presidio and ours ----------------------------------------------------


def sample_file(folder: Path, rows: int, seed: int) -> tuple[Path, LeakTruth, list[str]]:
    """A messier file: merged cells, every spelling equally often, many ID numbers."""
    options = LeakFileOptions(
        layout="merged",
        encoding="gbk",
        phone_spellings=dict.fromkeys(PHONE_SPELLINGS, 1.0),
        duplicate_share=0.05,
        untrue_share=0.03,
    )
    records = synthetic_records(round(rows / 1.08), seed=seed, id_share=0.6)
    path = folder / "leak-sample.csv"
    truth = write_leak_file(records, path, seed=seed, options=options)
    text = path.read_bytes().decode("gbk")
    lines = text.split("\r\n")[1 if truth.header is not None else 0 :]
    if len(lines) != truth.rows:
        raise SystemExit(f"sample: {len(lines)} lines for {truth.rows} rows of truth")
    return path, truth, lines


def presidio_engine(model_dir: Path) -> Callable[[str], list[tuple[str, int, int]]]:
    """Presidio's analyzer with Chinese mobile and resident-ID recognisers like ours."""
    import spacy
    from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    spacy.blank("zh").to_disk(model_dir)
    digit = "[0-9０-９]"
    phone_regex = (
        rf"(?<![0-9０-９A-Za-z])(?:(?:\+|00)?86[ -]{{0,2}})?[1１][3-9３-９]{digit}"
        rf"(?:[ .-]{{0,2}}{digit}){{8}}(?![0-9０-９A-Za-z])"
    )
    id_regex = rf"(?<![0-9０-９A-Za-z]){digit}{{17}}[0-9０-９Xx](?![0-9０-９A-Za-z])"

    class MobileRecognizer(PatternRecognizer):  # type: ignore[misc]
        def validate_result(self, pattern_text: str) -> bool:
            try:
                normalise_cn_mobile(pattern_text)
            except InvalidPhone:
                return False
            return True

    class IdRecognizer(PatternRecognizer):  # type: ignore[misc]
        def validate_result(self, pattern_text: str) -> bool:
            return is_valid_id_number(unicodedata.normalize("NFKC", pattern_text).upper())

    recognisers = [
        MobileRecognizer(
            supported_entity="CN_MOBILE",
            name="cn_mobile",
            supported_language="zh",
            patterns=[Pattern("cn_mobile", phone_regex, 0.5)],
            context=["手机", "电话", "联系方式", "tel"],
        ),
        IdRecognizer(
            supported_entity="CN_RESIDENT_ID",
            name="cn_resident_id",
            supported_language="zh",
            patterns=[Pattern("cn_resident_id", id_regex, 0.5)],
            context=["身份证", "证件"],
        ),
    ]
    registry = RecognizerRegistry(recognizers=recognisers, supported_languages=["zh"])
    nlp = SpacyNlpEngine(models=[{"lang_code": "zh", "model_name": str(model_dir)}])
    engine = AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["zh"])

    def analyze(text: str) -> list[tuple[str, int, int]]:
        return [(r.entity_type, r.start, r.end) for r in engine.analyze(text, language="zh")]

    return analyze


def run_presidio(lines: Sequence[str], model_dir: Path) -> tuple[Finds, float]:
    analyze = presidio_engine(model_dir)
    analyze(lines[0])  # load the pipeline before the clock starts
    finds: Finds = []
    began = time.perf_counter()
    for line in lines:
        phones: set[str] = set()
        ids: set[str] = set()
        for entity, start, end in analyze(line):
            text = line[start:end]
            if entity == "CN_MOBILE":
                phones.add(normalise_cn_mobile(text))
            else:
                ids.add(unicodedata.normalize("NFKC", text).upper())
        finds.append((phones, ids))
    return finds, time.perf_counter() - began


def run_ours_find(lines: Sequence[str]) -> tuple[Finds, float]:
    chosen = [r for r in default_recognisers() if r.role in ("mobile", "virtual_number", "id_number")]  # fmt: skip
    finds: Finds = []
    began = time.perf_counter()
    for line in lines:
        phones: set[str] = set()
        ids: set[str] = set()
        for recogniser in chosen:
            for found in recogniser.find(line):
                (ids if found.role == "id_number" else phones).add(found.normalised)
        finds.append((phones, ids))
    return finds, time.perf_counter() - began


def run_ours_polars(lines: Sequence[str]) -> tuple[Finds, float]:
    by_role = {r.role: r for r in default_recognisers()}
    frame = pl.DataFrame({"text": list(lines)})
    began = time.perf_counter()
    out = frame.select(
        by_role["mobile"].extract(pl.col("text")).alias("mobile"),
        by_role["virtual_number"].extract(pl.col("text")).alias("vnum"),
        by_role["id_number"].extract(pl.col("text")).alias("id"),
    )
    seconds = time.perf_counter() - began
    finds: Finds = [
        ({p for p in (m, v) if p is not None}, {i} if i is not None else set())
        for m, v, i in out.iter_rows()
    ]
    return finds, seconds


def score(finds: Finds, truth: LeakTruth) -> dict[str, float]:
    """Per-row recall and precision of phones and ID numbers (the truncated line left out)."""
    tp = {"phone": 0, "id": 0}
    fp = {"phone": 0, "id": 0}
    expected_n = {"phone": 0, "id": 0}
    for i, (phones, ids) in enumerate(finds):
        kind = int(truth.row_kind[i])
        if kind == RowKind.TRUNCATED:
            continue
        record = int(truth.row_record[i])
        want_phone = truth.phone(record) if record >= 0 else None
        want_id = truth.id_number(record) if record >= 0 else None
        for name, want, got in (("phone", want_phone, phones), ("id", want_id, ids)):
            if want is not None:
                expected_n[name] += 1
                tp[name] += want in got
            fp[name] += len(got - {want})
    out: dict[str, float] = {}
    for name in ("phone", "id"):
        out[f"{name}_recall_ratio"] = ratio(tp[name], expected_n[name])
        out[f"{name}_precision_ratio"] = ratio(tp[name], tp[name] + fp[name])
    return out


def ingest_sample(path: Path, truth: LeakTruth, home: Path) -> tuple[dict[str, object], dict[str, float], float]:  # fmt: skip
    """``ingest_file`` on the sample with a case, its persons checked against the truth by
    blind index (phone or ID number), as the match step would see them."""
    indexer = BlindIndexer(os.urandom(32))
    case = CaseDir.under(home, "leak-sample")
    case.root.mkdir(parents=True)
    began = time.perf_counter()
    report = ingest_file(path, indexer=indexer, case=case).as_dict()
    seconds = time.perf_counter() - began
    table = pq.read_table(case.persons_file, columns=["phone_bidx", "id_digest"])
    phones_found = set(pc.drop_null(table["phone_bidx"]).to_pylist())
    ids_found = set(pc.drop_null(table["id_digest"]).to_pylist())
    persons = {int(p) for p in np.unique(truth.row_person[truth.row_person >= 0])}
    true_phone: dict[int, bytes] = {}
    true_id: dict[int, bytes] = {}
    for record, person in enumerate(truth.record_person.tolist()):
        if person in persons and not truth.person_virtual[person]:
            true_phone.setdefault(person, indexer.phone(truth.phone(record)))
            id_number = truth.id_number(record)
            if id_number is not None:
                true_id.setdefault(person, indexer.id_number(id_number))
    real = [p for p in persons if not truth.person_virtual[p]]
    recalled = sum(true_phone[p] in phones_found or true_id.get(p) in ids_found for p in real)
    all_true_phones, all_true_ids = set(true_phone.values()), set(true_id.values())
    correct = sum(
        (ph is not None and ph in all_true_phones) or (i is not None and i in all_true_ids)
        for ph, i in zip(
            table["phone_bidx"].to_pylist(), table["id_digest"].to_pylist(), strict=True
        )
    )
    quality = {
        "person_recall_ratio": ratio(recalled, len(real)),
        "person_precision_ratio": ratio(correct, table.num_rows),
    }
    return report, quality, seconds


def bench_sample(folder: Path, rows: int, seed: int, figures: Figures) -> None:
    say(f"\n[3] sample of about {rows:,} rows with known truth (merged cells, every spelling, IDs)")
    path, truth, lines = sample_file(folder, rows, seed)
    n = truth.rows
    say(f"    {n:,} rows, {truth.persons:,} persons, spellings {dict(truth.phone_spellings)}")

    presidio, presidio_s = run_presidio(lines, folder / "zh-blank")
    ours, ours_s = run_ours_find(lines)
    bulk, bulk_s = run_ours_polars(lines)
    report, persons, ingest_s = ingest_sample(path, truth, folder / "home")

    results = {"presidio": score(presidio, truth), "ours": score(ours, truth), "ours_polars": score(bulk, truth)}  # fmt: skip
    speeds = {"presidio": rate(n, presidio_s), "ours": rate(n, ours_s), "ours_polars": rate(n, bulk_s), "sample_ingest": rate(n, ingest_s)}  # fmt: skip
    for who, s in speeds.items():
        figures[f"{who}_rows_per_s"] = round(s)
    for who, metrics in results.items():
        for key, value in metrics.items():
            figures[f"{who}_{key}"] = value
    for key, value in persons.items():
        figures[f"sample_ingest_{key}"] = value
    compare_counts("sample_ingest", report, truth.as_dict(), figures)
    # ours ÷ presidio: the whole ingest and each recogniser path against the analyzer
    figures["speed_ratio"] = ratio(speeds["sample_ingest"], speeds["presidio"])
    figures["find_speed_ratio"] = ratio(speeds["ours"], speeds["presidio"])
    figures["polars_speed_ratio"] = ratio(speeds["ours_polars"], speeds["presidio"])
    for key in ("phone_recall_ratio", "phone_precision_ratio", "id_recall_ratio", "id_precision_ratio"):  # fmt: skip
        figures[key] = ratio(results["ours_polars"][key], results["presidio"][key])
        figures[f"find_{key}"] = ratio(results["ours"][key], results["presidio"][key])

    say(f"    {'':<14}{'rows/s':>10}{'phone R':>9}{'phone P':>9}{'ID R':>8}{'ID P':>8}")
    for who in ("presidio", "ours", "ours_polars"):
        m = results[who]
        say(f"    {who:<14}{speeds[who]:>10,.0f}{m['phone_recall_ratio']:>9.4f}{m['phone_precision_ratio']:>9.4f}"
            f"{m['id_recall_ratio']:>8.4f}{m['id_precision_ratio']:>8.4f}")  # fmt: skip
    say(f"    {'ingest_file':<14}{speeds['sample_ingest']:>10,.0f}  persons recall {persons['person_recall_ratio']:.4f}, "
        f"precision {persons['person_precision_ratio']:.4f}; columns "
        + ", ".join(f"{c.get('role')}:{c.get('confidence')}" for c in report["columns"]))  # type: ignore[union-attr]  # fmt: skip


def commit() -> str:
    """The checkout's commit, marked when the work tree differs (figures belong to code)."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "../src"], cwd=here, capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "an unknown commit"
    return f"{head}{' (modified src)' if dirty else ''}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows of the bulk file")
    parser.add_argument("--sample", type=int, default=20_000, help="rows of the recall sample")
    parser.add_argument("--seed", type=int, default=2016)
    parser.add_argument("--tmp", type=Path, default=None, help="folder for the temporary files")
    parser.add_argument(
        "--no-baseline",
        dest="baseline",
        action="store_false",
        help="skip the one-process ingest that the workers are compared with",
    )
    args = parser.parse_args(argv)
    if args.rows < 1 or args.sample < 100:
        parser.error("--rows must be at least 1 and --sample at least 100")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    figures: Figures = {}
    load = os.getloadavg()
    say(f"leak ingest benchmark at {commit()}: {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="pg-leak-bench-", dir=args.tmp) as tmp:
        folder = Path(tmp)
        bench_bulk(folder, args.rows, args.seed, figures, baseline=args.baseline)
        bench_sample(folder, args.sample, args.seed + 1, figures)
    figures["total_s"] = round(time.perf_counter() - started, 1)
    say(f"\ntotal {figures['total_s']} s")
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
