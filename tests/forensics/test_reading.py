"""Lines, cells and sheets come out of a messy file intact, and hostile files are refused."""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter
import xlwt

from parcelguard.core.errors import BadInput
from parcelguard.forensics.decoding import Utf8Transcoder, detect_encoding, read_samples
from parcelguard.forensics.reading import (
    Dialect,
    LineBlock,
    LongLine,
    ReadLimits,
    check_zip,
    detect_dialect,
    file_kind,
    iter_line_blocks,
    lines_frame,
    read_sheets,
    split_cells,
)


def blocks(data: bytes, limits: ReadLimits) -> list[LineBlock | LongLine]:
    handle = io.BytesIO(data)
    decision = detect_encoding(read_samples(handle, len(data)), source="x")
    return list(iter_line_blocks(handle, Utf8Transcoder(decision), limits))


def frame_of(data: bytes, limits: ReadLimits | None = None) -> pl.DataFrame:
    found = blocks(data, limits or ReadLimits(block_bytes=16))
    return pl.concat([lines_frame(b) for b in found if isinstance(b, LineBlock)])


def test_lines_are_numbered_across_blocks_and_crlf_is_stripped() -> None:
    data = b"a,1\r\nb,2\r\n\r\nc,3"
    frame = frame_of(data, ReadLimits(block_bytes=3))
    assert frame.rows() == [(1, "a,1"), (2, "b,2"), (3, ""), (4, "c,3")]


def test_the_last_block_says_it_ends_without_a_line_break() -> None:
    found = blocks(b"a,1\nb,2", ReadLimits(block_bytes=64))
    assert isinstance(found[-1], LineBlock)
    assert found[-1].at_end
    assert not found[-1].data.endswith(b"\n")


def test_a_long_line_is_skipped_with_its_number_without_holding_it(tmp_path: Path) -> None:
    path = tmp_path / "one-huge-line.txt"
    chunk = b"x" * (4 * 1024 * 1024)
    with path.open("wb") as out:
        out.write("张三,13812345678\n".encode())
        for _ in range(50):  # 200 MiB on a single line
            out.write(chunk)
        out.write("\n李四,13912345678\n".encode())
    limits = ReadLimits(max_line_bytes=64 * 1024, block_bytes=1024 * 1024)
    tracemalloc.start()
    with path.open("rb") as handle:
        decision = detect_encoding(read_samples(handle, path.stat().st_size), source="x")
        found = list(iter_line_blocks(handle, Utf8Transcoder(decision), limits))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert [f.line for f in found if isinstance(f, LongLine)] == [2]
    texts = pl.concat([lines_frame(b) for b in found if isinstance(b, LineBlock)])
    assert texts.rows() == [(1, "张三,13812345678"), (3, "李四,13912345678")]
    assert peak < 16 * 1024 * 1024


def test_a_file_that_is_one_long_line_without_a_break_is_one_long_line() -> None:
    found = blocks(b"y" * 5000, ReadLimits(max_line_bytes=1000, block_bytes=256))
    assert found == [LongLine(1)]


@pytest.mark.parametrize(
    ("delimiter", "name"),
    [(",", "comma"), ("\t", "tab"), ("|", "pipe"), (";", "semicolon")],
)
def test_the_delimiter_is_detected_on_a_sample(delimiter: str, name: str) -> None:
    lines = [delimiter.join(["张三", "13812345678", "湖北省荆州市沙市区"])] * 30
    dialect = detect_dialect(lines)
    assert (dialect.name, dialect.columns, dialect.consistency) == (name, 3, 1.0)


def test_runs_of_spaces_are_a_delimiter_when_nothing_else_is() -> None:
    lines = ["张三    13812345678   湖北省荆州市沙市区", "李四  13912345678      武汉市"] * 10
    dialect = detect_dialect(lines)
    assert (dialect.name, dialect.columns) == ("spaces", 3)
    frame = pl.DataFrame({"line": [1, 2], "text": lines[:2]})
    cells = split_cells(frame, dialect)
    assert cells.select("f0", "f1", "f2").rows()[1] == ("李四", "13912345678", "武汉市")


def test_free_text_lines_are_one_cell() -> None:
    lines = ["张三 13812345678 湖北省荆州市沙市区北京路12号"] * 10
    assert detect_dialect(lines).name in {"none", "spaces"}
    assert detect_dialect(["张三13812345678湖北省荆州市"] * 10).name == "none"


def test_quoted_cells_keep_their_delimiters_and_escaped_quotes() -> None:
    lines = [
        '"张三","13812345678","湖北省荆州市, 沙市区"',
        '李四,13912345678,"说 ""你好"" 了"',
        "王五,13712345678,武汉,多余",
        "赵六,1361234",
    ]
    dialect = detect_dialect(lines * 5)
    assert (dialect.delimiter, dialect.quoted, dialect.columns) == (",", True, 3)
    frame = pl.DataFrame({"line": [1, 2, 3, 4], "text": lines})
    cells = split_cells(frame, dialect).sort("line")
    assert cells.select("nfields", "f0", "f1", "f2").rows() == [
        (3, "张三", "13812345678", "湖北省荆州市, 沙市区"),
        (3, "李四", "13912345678", '说 "你好" 了'),
        (4, "王五", "13712345678", "武汉"),
        (2, "赵六", "1361234", None),
    ]


def test_file_kind_comes_from_the_bytes_not_the_name(tmp_path: Path) -> None:
    assert file_kind(tmp_path / "a.csv", b"PK\x03\x04xx") == "xlsx"
    assert file_kind(tmp_path / "a.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1") == "xls"
    assert file_kind(tmp_path / "a.xls", b"name,phone") == "text"
    with pytest.raises(BadInput, match="empty"):
        file_kind(tmp_path / "a.csv", b"")


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_path: Path) -> None:
    bomb = _zip(
        tmp_path / "bomb.xlsx",
        {"[Content_Types].xml": b"<x/>", "xl/worksheets/sheet1.xml": b"\0" * (8 * 1024 * 1024)},
    )
    with pytest.raises(BadInput, match=r"bomb\.xlsx: refused as a zip bomb: member .* inflates"):
        check_zip(bomb, ReadLimits())
    with pytest.raises(BadInput, match="refused as a zip bomb: it declares"):
        check_zip(bomb, ReadLimits(max_unzipped_bytes=1024 * 1024))
    with pytest.raises(BadInput, match="refused as a zip bomb"):
        read_sheets(bomb, "xlsx", ReadLimits())


def test_a_zip_that_is_no_spreadsheet_or_is_broken_is_named(tmp_path: Path) -> None:
    other = _zip(tmp_path / "other.xlsx", {"readme.txt": b"hello"})
    with pytest.raises(BadInput, match="a zip archive, not an XLSX spreadsheet"):
        check_zip(other, ReadLimits())
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04" + b"garbage" * 10)
    with pytest.raises(BadInput, match="broken zip"):
        check_zip(broken, ReadLimits())


def test_every_sheet_of_an_xlsx_is_read_with_numbers_as_digits(tmp_path: Path) -> None:
    path = tmp_path / "two.xlsx"
    book = xlsxwriter.Workbook(str(path))
    first = book.add_worksheet("收件人")
    first.write_row(0, 0, ["姓名", "电话"])
    first.write_row(1, 0, ["张三", 13812345678])
    first.write_row(2, 0, ["李四", "13912345678"])
    second = book.add_worksheet("第二页")
    second.write_row(0, 0, ["王五", 13712345678, "湖北省荆州市"])
    book.close()
    sheets = read_sheets(path, "xlsx", ReadLimits())
    assert [s.name for s in sheets] == ["收件人", "第二页"]
    assert sheets[0].rows.select("line", "f0", "f1").rows() == [
        (1, "姓名", "电话"),
        (2, "张三", "13812345678"),
        (3, "李四", "13912345678"),
    ]
    assert sheets[1].columns == 3
    assert sheets[1].rows.select("f1").item() == "13712345678"


def test_an_xls_is_read_through_calamine(tmp_path: Path) -> None:
    path = tmp_path / "old.xls"
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("Sheet1")
    for r, row in enumerate([["客户", "手机"], ["张三", 13812345678.0]]):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    book.save(str(path))
    with path.open("rb") as handle:
        assert file_kind(path, handle.read(8)) == "xls"
    sheets = read_sheets(path, "xls", ReadLimits())
    assert sheets[0].rows.select("f0", "f1").rows() == [("客户", "手机"), ("张三", "13812345678")]


def test_a_file_that_claims_to_be_xls_but_is_not_is_named(tmp_path: Path) -> None:
    path = tmp_path / "fake.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    with pytest.raises(BadInput, match=r"fake\.xls: not a readable spreadsheet"):
        read_sheets(path, "xls", ReadLimits())


def test_dialect_as_dict_names_the_delimiter() -> None:
    assert Dialect("\t", quoted=False, columns=4, consistency=0.97).as_dict() == {
        "name": "tab",
        "quoted": False,
        "columns": 4,
        "consistency": 0.97,
    }


def test_the_sample_and_the_read_agree_on_what_a_blank_line_is() -> None:
    import polars as pl

    from parcelguard.forensics.reading import WHITE_SPACE

    stripped = [c for c in range(0x3001) if pl.Series([chr(c)]).str.strip_chars()[0] == ""]
    assert stripped == sorted(map(ord, WHITE_SPACE))
    assert "\x1f".strip() == ""  # Python's own strip would call this line blank
    assert "\x1f".strip(WHITE_SPACE) == "\x1f"
