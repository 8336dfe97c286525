"""Worker processes change how fast a file is ingested, never what comes out of it."""

from __future__ import annotations

import pickle
import secrets
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from parcelguard.forensics.case import CaseDir
from parcelguard.forensics.ingest import ingest_file
from parcelguard.forensics.reading import ReadLimits
from parcelguard.forensics.workers import MIN_BLOCKS_FOR_WORKERS, default_workers
from parcelguard.simulate.leak_file import (
    LeakFileOptions,
    synthetic_records,
    write_bulk_leak,
    write_leak_file,
)
from parcelguard.vault.blind_index import BlindIndexer

INDEXER = BlindIndexer(secrets.token_bytes(32))
SMALL_BLOCKS = ReadLimits(block_bytes=64 * 1024)


def ingest_both(path: Path, tmp_path: Path, limits: ReadLimits) -> tuple[dict, dict, list, list]:  # type: ignore[type-arg]
    reports, tables = [], []
    for workers in (0, 2):
        case = CaseDir.under(tmp_path, f"case-{workers}")
        report = ingest_file(path, indexer=INDEXER, case=case, limits=limits, workers=workers)
        found = report.as_dict()
        for moving in ("seconds", "first_seen", "case"):
            found.pop(moving)
        notes = found["notes"]
        assert isinstance(notes, list)
        said = [n for n in notes if "worker" in n]
        assert said == ([f"read and indexed in {workers} worker processes"] if workers else [])
        found["notes"] = [n for n in notes if "worker" not in n]
        reports.append(found)
        tables.append(pq.read_table(case.persons_file).to_pylist())
    return reports[0], reports[1], tables[0], tables[1]


def test_a_bulk_file_in_many_blocks_gives_the_same_report_and_persons(tmp_path: Path) -> None:
    path = tmp_path / "bulk.csv"
    truth = write_bulk_leak(path, 6_000, seed=8, options=LeakFileOptions(encoding="gbk"))
    alone, parallel, table_alone, table_parallel = ingest_both(path, tmp_path, SMALL_BLOCKS)
    assert path.stat().st_size > 10 * SMALL_BLOCKS.block_bytes  # really many blocks
    assert parallel == alone
    assert table_parallel == table_alone
    assert alone["rows_read"] == truth.rows
    assert alone["person_records"] == truth.persons


def test_messy_lines_header_after_blank_lines_and_a_cut_end_agree(tmp_path: Path) -> None:
    """Blank lines fill the first blocks, so the header is found in a later one."""
    records = synthetic_records(400, seed=5)
    path = tmp_path / "messy.csv"
    write_leak_file(records, path, seed=9, options=LeakFileOptions(encoding="gb18030"))
    data = path.read_bytes()
    huge = b"9" * (80 * 1024)  # over max_line_bytes: skipped as too long, mid-file
    lines = data.split(b"\r\n")
    middle = len(lines) // 2
    body = b"\r\n".join([*lines[:middle], huge, *lines[middle:]])
    path.write_bytes(b"\r\n" * 40_000 + body + "\r\n王五,1381234".encode("gb18030"))
    limits = ReadLimits(block_bytes=16 * 1024)
    alone, parallel, table_alone, table_parallel = ingest_both(path, tmp_path, limits)
    assert parallel == alone
    assert table_parallel == table_alone
    assert alone["header"] is True
    assert alone["blank_lines"] >= 40_000
    assert alone["rows_rejected"]["by_reason"]["line_too_long"] == 1  # type: ignore[index]
    assert alone["rows_rejected"]["by_reason"]["truncated"] == 1  # type: ignore[index]


def test_small_files_are_read_in_process_and_large_ones_by_workers() -> None:
    block = SMALL_BLOCKS.block_bytes
    assert default_workers(block, block) == 0
    assert default_workers(MIN_BLOCKS_FOR_WORKERS * block, block) in (0, *range(2, 9))


def test_the_indexer_is_never_pickled_and_its_key_leaves_only_on_purpose() -> None:
    key = secrets.token_bytes(32)
    indexer = BlindIndexer(key)
    with pytest.raises(TypeError, match="not pickled"):
        pickle.dumps(indexer)
    copy = BlindIndexer(indexer.unsafe_export_key())
    assert copy.phone("13812345678") == indexer.phone("13812345678")
    assert copy.name_phone("张三", "13812345678") == indexer.name_phone("张三", "13812345678")
    assert key.hex() not in repr(indexer)
    long_key = secrets.token_bytes(100)  # hashed to 32 bytes first, as RFC 2104 says
    exported = BlindIndexer(long_key).unsafe_export_key()
    assert len(exported) == 32
    assert BlindIndexer(exported).phone("13812345678") == BlindIndexer(long_key).phone(
        "13812345678"
    )


def test_address_memory_is_shared_safely_by_threads_and_forgotten() -> None:
    from concurrent.futures import ThreadPoolExecutor

    import polars as pl

    from parcelguard.forensics.recognisers import AddressRecogniser

    records = synthetic_records(3_000, seed=12)
    cells = pl.Series([r.address for r in records], dtype=pl.String)
    expected = [AddressRecogniser(memory=0).normalise(c) for c in cells.to_list()]
    shared = AddressRecogniser()
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: shared.normalise_batch(cells).to_list(), range(8)))
    assert all(answer == expected for answer in answers)
    assert shared._known.height == shared._known.get_column("cell").n_unique() > 0
    restored = pickle.loads(pickle.dumps(shared))  # crosses to a worker without its memory
    assert restored._known.height == 0
    assert restored.normalise_batch(cells).to_list() == expected
    shared.forget()
    assert shared._known.height == 0


@pytest.mark.parametrize("workers", [-1])
def test_a_negative_worker_count_is_refused(tmp_path: Path, workers: int) -> None:
    path = tmp_path / "bulk.csv"
    write_bulk_leak(path, 100, seed=2)
    with pytest.raises(ValueError, match="workers"):
        ingest_file(path, indexer=INDEXER, workers=workers)
