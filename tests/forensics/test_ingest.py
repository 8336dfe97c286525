"""ingest_file on files as they are sold: exact counts against the simulator's truth, and
every kind of bad input answered with a clear error or a partial result that says why."""

from __future__ import annotations

import json
import secrets
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import xlsxwriter

from parcelguard.core.errors import BadInput
from parcelguard.forensics.case import PERSONS_SCHEMA, CaseDir
from parcelguard.forensics.ingest import ingest_file
from parcelguard.forensics.reading import ReadLimits
from parcelguard.simulate.leak_file import LeakFileOptions, synthetic_records, write_leak_file
from parcelguard.vault.blind_index import BlindIndexer

INDEXER = BlindIndexer(secrets.token_bytes(32))
RECORDS = synthetic_records(120, seed=21)
HEADER = "收件人,收货人电话,地址详情,证件号码\r\n"
ID_OK = "420102199001011236"


def ingest(path: Path, **kwargs: object) -> dict[str, object]:
    return ingest_file(path, indexer=INDEXER, **kwargs).as_dict()  # type: ignore[arg-type]


def reasons(report: dict[str, object]) -> dict[str, int]:
    rejected = report["rows_rejected"]
    assert isinstance(rejected, dict)
    return {k: v for k, v in rejected["by_reason"].items() if v}


@pytest.mark.parametrize(
    "options",
    [
        LeakFileOptions(encoding="gbk"),
        LeakFileOptions(encoding="gb18030", delimiter="\t", header="plain"),
        LeakFileOptions(encoding="utf-8-sig", delimiter="|", line_ending="\n"),
        LeakFileOptions(encoding="utf-16", layout="merged", header="none"),
        LeakFileOptions(encoding="utf-8", delimiter="spaces", header="odd"),
        LeakFileOptions(fmt="txt", layout="merged", header="odd"),
        LeakFileOptions(fmt="xlsx", sheets=3),
        LeakFileOptions(fmt="xls", layout="merged", header="none"),
    ],
    ids=["gbk", "gb18030-tab", "bom-pipe-lf", "utf16-merged", "spaces", "txt", "xlsx", "xls"],
)
def test_counts_are_exactly_the_truth(tmp_path: Path, options: LeakFileOptions) -> None:
    path = tmp_path / f"leak.{options.fmt}"
    truth = write_leak_file(RECORDS, path, seed=3, options=options)
    report = ingest(path)
    assert report["rows_read"] == truth.rows
    assert report["person_records"] == truth.persons
    assert report["virtual_number_records"] == truth.virtual_number_records
    assert report["untrue_excluded"] == truth.untrue_rows
    rejected = report["rows_rejected"]
    assert isinstance(rejected, dict)
    kept = report["rows_kept"]
    assert kept == truth.rows - rejected["total"]
    assert report["duplicates_excluded"] == kept - truth.persons - truth.virtual_number_records
    roles = {c["role"] for c in report["columns"]}  # type: ignore[union-attr]
    assert "mobile" in roles or "merged" in roles
    if options.fmt in ("xlsx", "xls"):
        assert [s["name"] for s in report["sheets"]] == list(truth.sheets)  # type: ignore[union-attr]


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_crlf_bom_and_encodings_give_the_same_counts(tmp_path: Path) -> None:
    body = "".join(f"{r.name},{r.phone},{r.address},\r\n" for r in RECORDS[:50])
    results = {}
    for codec in ("utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16", "utf-16-le"):
        report = ingest(write(tmp_path / f"{codec}.csv", HEADER + body, codec))
        results[codec] = (report["rows_read"], report["person_records"], report["header"])
        assert report["encoding"]["name"] in {  # type: ignore[index]
            "utf-8",
            "utf-8-sig",
            "gbk",
            "gb18030",
            "utf-16-le",
        }
    assert set(results.values()) == {(50, 50, True)}


def test_truncated_and_ragged_lines_keep_what_can_be_kept(tmp_path: Path) -> None:
    lines = [
        f"张三,13812345678,{RECORDS[0].address},{ID_OK}",
        "李四,13912345678,湖北省武汉市武昌区,,多余,多余",  # too many cells: kept
        "王五,13712345678",  # too few cells: kept by its mobile
        "赵六,武汉市,无",  # too few and nothing usable: ragged
        "孙七,13612345678,湖北省荆州市,4201021990",  # the last line, cut in its ID cell
    ]
    path = write(tmp_path / "cut.csv", HEADER + "\r\n".join(lines))
    report = ingest(path)
    assert report["rows_read"] == 5
    assert reasons(report) == {"ragged": 1}
    assert report["person_records"] == 4
    cut = write(tmp_path / "cut2.csv", HEADER + "\r\n".join([*lines[:3], "孙七,136123"]))
    report = ingest(cut)
    assert reasons(report) == {"truncated": 1}
    assert report["person_records"] == 3


def test_wrong_bytes_mid_file_lose_the_cell_not_the_file(tmp_path: Path) -> None:
    good = [f"{r.name},{r.phone},{r.address}," for r in RECORDS[:100]]
    data = (HEADER + "\r\n".join(good) + "\r\n").encode("gbk")
    data += "坏名".encode("gbk")[:1] + b"\xff,13812345678,,\r\n"  # a broken name: row kept
    data += b"\xff\xfe,,,\r\n"  # nothing but broken bytes: rejected as undecodable
    path = tmp_path / "broken.csv"
    path.write_bytes(data)
    report = ingest(path)
    assert report["encoding"]["name"] == "gbk"  # type: ignore[index]
    assert report["rows_read"] == 102
    assert reasons(report) == {"undecodable": 1}
    assert report["person_records"] == 101
    assert report["replaced_characters"] >= 2
    assert report["notes"]


def test_labelled_cells_are_read_as_merged(tmp_path: Path) -> None:
    lines = [f"收件人：{r.name}  电话：{r.phone}  地址：{r.address}" for r in RECORDS[:30]]
    report = ingest(write(tmp_path / "labelled.txt", "\r\n".join(lines) + "\r\n"))
    assert (report["rows_read"], report["person_records"]) == (30, 30)
    assert "merged" in {c["role"] for c in report["columns"]}  # type: ignore[union-attr]


def test_a_huge_single_line_is_skipped_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    with path.open("wb") as out:
        out.write(f"{HEADER}张三,13812345678,,\r\n".encode())
        for _ in range(40):  # 40 MiB on one line, with a limit of 64 KiB
            out.write(b"9" * (1024 * 1024))
        out.write("\r\n李四,13912345678,,\r\n".encode())
    report = ingest(path, limits=ReadLimits(block_bytes=1024 * 1024), workers=0)
    assert report["rows_read"] == 3
    assert reasons(report) == {"line_too_long": 1}
    assert report["person_records"] == 2


def test_no_header_and_merged_cells(tmp_path: Path) -> None:
    lines = [f"{r.name} {r.phone} {r.address},加急" for r in RECORDS[:40]]
    report = ingest(write(tmp_path / "merged.txt", "\n".join(lines) + "\n"))
    assert report["header"] is False
    assert report["rows_read"] == 40
    assert report["person_records"] == 40
    column, _ = report["columns"]  # type: ignore[misc]
    assert column["role"] == "merged"
    assert column["header"] is None
    assert {"mobile", "address"} <= set(column["merged_roles"])


def test_several_sheets_are_read_and_named(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    book = xlsxwriter.Workbook(str(path))
    for name, records in (("一月", RECORDS[:20]), ("二月", RECORDS[10:30])):
        sheet = book.add_worksheet(name)
        sheet.write_row(0, 0, ["客户", "联系方式", "收货地址"])
        for i, r in enumerate(records, start=1):
            sheet.write_row(i, 0, [r.name, int(r.phone), r.address])
    book.close()
    report = ingest(path)
    assert report["sheets"] == [
        {"name": "一月", "rows_read": 20, "columns": 3, "header": True},
        {"name": "二月", "rows_read": 20, "columns": 3, "header": True},
    ]
    assert report["rows_read"] == 40
    assert report["person_records"] == 30  # ten people are on both sheets
    assert report["duplicates_excluded"] == 10
    assert {c["sheet"] for c in report["columns"]} == {"一月", "二月"}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\x00\x01\x02\x03binary\x00" * 200, "not a text file or spreadsheet"),
        (("これは日本語のテキストです。" * 80).encode("shift_jis"), "unknown encoding"),
    ],
    ids=["empty", "binary", "unknown-encoding"],
)
def test_bad_files_are_a_clear_error_naming_the_file(
    tmp_path: Path, data: bytes, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(data)
    with pytest.raises(BadInput, match=f"^{path}: {message}"):
        ingest_file(path, indexer=INDEXER)


def test_a_zip_bomb_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"<" * (20 * 1024 * 1024))
    with pytest.raises(BadInput, match="refused as a zip bomb"):
        ingest_file(path, indexer=INDEXER)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no such file"):
        ingest_file(tmp_path / "nothing.csv", indexer=INDEXER)


def test_a_case_gets_its_report_and_persons_and_keeps_its_file(tmp_path: Path) -> None:
    path = tmp_path / "leak.csv"
    truth = write_leak_file(RECORDS, path, seed=4)
    case = CaseDir.under(tmp_path, "leak")
    seen = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    progress: list[tuple[int, int]] = []
    report = ingest_file(
        path,
        indexer=INDEXER,
        case=case,
        first_seen=seen,
        progress=lambda d, t: progress.append((d, t)),
    )
    stored = case.read_json(case.case_file)
    assert stored["person_records"] == truth.persons == report.person_records
    assert stored["first_seen"] == seen.isoformat()
    assert stored["source"]["bytes"] == path.stat().st_size  # type: ignore[index]
    table = pq.read_table(case.persons_file)
    assert table.schema.equals(PERSONS_SCHEMA, check_metadata=False)
    assert table.num_rows == truth.persons + truth.virtual_number_records
    assert progress[-1] == (path.stat().st_size, path.stat().st_size)
    text = case.case_file.read_text(encoding="utf-8") + json.dumps(report.as_dict())
    for record in RECORDS:
        assert record.phone not in text
        assert record.address not in text
    ingest_file(path, indexer=INDEXER, case=case)  # the same file again: allowed
    other = write(tmp_path / "other.csv", HEADER + "张三,13812345678,,\r\n")
    with pytest.raises(BadInput, match="already holds another file"):
        ingest_file(other, indexer=INDEXER, case=case)
    assert case.read_json(case.case_file)["source"]["file_name"] == "leak.csv"  # type: ignore[index]


def test_thousands_of_blank_lines_before_the_header_change_nothing(tmp_path: Path) -> None:
    path = tmp_path / "leak.csv"
    truth = write_leak_file(RECORDS, path, seed=3, options=LeakFileOptions(encoding="gbk"))
    plain = ingest(path)
    path.write_bytes(b"\r\n" * 5_000 + path.read_bytes())  # more than the sampled head
    padded = ingest(path)
    assert padded["header"] is True
    assert padded["blank_lines"] == 5_000
    assert (padded["rows_read"], padded["person_records"]) == (truth.rows, truth.persons)
    assert padded["columns"] == plain["columns"]
