"""The leaked-file simulator: the truth it returns is what the file holds.

Every check reads the written bytes back independently (plain ``csv`` for text files,
python-calamine for workbooks) and compares them with the truth, so a writer that drifts
from its truth fails here rather than in a benchmark's recall figure.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from python_calamine import CalamineWorkbook

from parcelguard.core.errors import BadInput
from parcelguard.core.names import COMPOUND_SURNAMES
from parcelguard.core.phone import InvalidPhone, normalise_cn_mobile
from parcelguard.simulate.leak_file import (
    ENCODINGS,
    PHONE_SPELLINGS,
    LeakFileOptions,
    LeakRecord,
    LeakTruth,
    RowKind,
    id_check_digit,
    is_valid_id_number,
    spell_phone,
    synthetic_records,
    write_bulk_leak,
    write_leak_file,
    write_truth,
)
from parcelguard.simulate.reference import districts, given_name_chars, mobile_segments, surnames

# A phone as any spelling writes it, inside a merged cell (addresses have no 11-digit runs).
PHONE_IN_TEXT = re.compile(r"(?:\+86[ -]?|0086|86)?1\d\d[ -]?\d{4}[ -]?\d{4}")
SPELLING_SHAPES = {
    "plain": re.compile(r"1\d{10}"),
    "spaced": re.compile(r"1\d\d \d{4} \d{4}"),
    "dashed": re.compile(r"1\d\d-\d{4}-\d{4}"),
    "plus86": re.compile(r"\+86[ -]1\d{10}"),
    "0086": re.compile(r"00861\d{10}"),
    "86": re.compile(r"861\d{10}"),
    "fullwidth": re.compile(r"１[０-９]{10}"),
}


@pytest.fixture(scope="module")
def records() -> list[LeakRecord]:
    return synthetic_records(400, seed=11, id_share=0.5)


def _decode(raw: bytes, encoding: str) -> str:
    if encoding == "utf-16":
        assert raw.startswith(b"\xff\xfe")
        return raw.decode("utf-16")
    if encoding == "utf-8-sig":
        assert raw.startswith(b"\xef\xbb\xbf")
    else:
        assert not raw.startswith(b"\xef\xbb\xbf")
    return raw.decode(encoding)


def _text_rows(path: Path, truth: LeakTruth) -> list[list[str]]:
    """The file's data rows as plain ``csv`` splits them, header checked and removed."""
    assert truth.encoding is not None
    assert truth.line_ending is not None
    text = _decode(path.read_bytes(), truth.encoding)
    lines = text.split(truth.line_ending)
    if truth.line_ending == "\r\n":
        assert all("\n" not in line and "\r" not in line for line in lines)
    # The last line ends without a line break exactly when it is the truncated one.
    assert (lines[-1] != "") == truth.truncated_last_row
    if truth.delimiter == "spaces":
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=" ", skipinitialspace=True)
    else:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=truth.delimiter or ",")
    rows = list(reader)
    if truth.header is not None:
        assert rows[0] == list(truth.header)
        rows = rows[1:]
    return rows


def _phone_cell(row: list[str], truth: LeakTruth) -> str:
    if "phone" in truth.columns:
        return row[truth.columns.index("phone")]
    found = PHONE_IN_TEXT.findall(unicodedata.normalize("NFKC", row[0]))
    assert len(found) == 1, "a merged cell holds exactly one phone"
    return str(found[0])


def _check_rows(rows: list[list[object]], truth: LeakTruth) -> None:
    """Every row holds what the truth says: its record's phone and ID number, or none valid."""
    assert len(rows) == truth.rows
    has_id = "id_number" in truth.columns
    width = len(truth.columns)
    seen: set[int] = set()
    for i, row in enumerate(rows):
        kind = int(truth.row_kind[i])
        cells = ["" if c is None else str(c) for c in row]
        if kind == RowKind.TRUNCATED:
            assert i == len(rows) - 1
            continue
        phone_cell = _phone_cell(cells, truth)
        record = int(truth.row_record[i])
        id_cell = cells[truth.columns.index("id_number")] if has_id else ""
        if kind == RowKind.UNTRUE:
            assert record == -1
            with pytest.raises(InvalidPhone):
                normalise_cn_mobile(phone_cell.removesuffix(".0"))
            assert not is_valid_id_number(id_cell)
            continue
        assert normalise_cn_mobile(phone_cell.removesuffix(".0")) == truth.phone(record)
        expected_id = truth.id_number(record)
        if has_id:
            assert id_cell in ((expected_id,) if expected_id else ("", "-"))
        person = int(truth.row_person[i])
        assert person == int(truth.record_person[record])
        assert (kind == RowKind.FIRST) == (person not in seen)
        seen.add(person)
        assert len(cells) in (width - 1, width, width + 1)
    assert len(seen) == truth.persons


def _check_truncated(path: Path, truth: LeakTruth) -> None:
    """The cut last line is a strict prefix of a full line of the same record."""
    assert truth.encoding is not None
    assert truth.line_ending is not None
    lines = _decode(path.read_bytes(), truth.encoding).split(truth.line_ending)
    first_data = 1 if truth.header is not None else 0
    data = lines[first_data:-1]
    last = lines[-1]
    record = int(truth.row_record[-1])
    same = [
        line for line, r in zip(data, truth.row_record[:-1].tolist(), strict=True) if r == record
    ]
    assert 0 < len(last) < max(len(line) for line in same)
    assert any(line.startswith(last) for line in same)


# ---------------------------------------------------------------------------- ID numbers


def test_id_check_digit_follows_gb_11643() -> None:
    # The standard's own example, and one by hand: the weighted sum of 44030519900101001
    # (weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2) is 180, 180 mod 11 = 4, and "10X98765432"[4].
    assert id_check_digit("11010519491231002") == "X"
    assert is_valid_id_number("11010519491231002X")
    assert not is_valid_id_number("110105194912310021")
    assert not is_valid_id_number("11010519491231002x")
    assert id_check_digit("44030519900101001") == "8"
    with pytest.raises(ValueError, match="17 ASCII digits"):
        id_check_digit("4403051990010100")


def test_synthetic_records_are_synthetic_and_well_formed(records: list[LeakRecord]) -> None:
    """No real personal data: every part comes from the simulator's reference tables."""
    family = set(surnames()[0].tolist())
    given = set(given_name_chars()[0].tolist())
    prefixes = set(mobile_segments().prefix.tolist())
    per_segment = Counter(str(p)[:3] for p in prefixes)
    issued = {seg for seg, n in per_segment.items() if n >= 1000} - {"170", "171"}
    d = districts()
    adcodes = set(d.adcode.tolist())
    provinces = set(d.province.tolist())
    phones = [r.phone for r in records]
    ids = [r.id_number for r in records if r.id_number]
    assert len(set(phones)) == len(phones)
    assert len(set(ids)) == len(ids)
    assert 150 < len(ids) < 250  # id_share 0.5 of 400
    for r in records:
        surname = r.name[:2] if r.name[:2] in COMPOUND_SURNAMES else r.name[:1]
        assert surname in family
        assert set(r.name[len(surname) :]) <= given
        assert 1 <= len(r.name) - len(surname) <= 2
        assert int(r.phone[:7]) in prefixes
        assert r.phone[:3] in issued  # a real subscriber's segment, not a virtual range
        assert any(r.address.startswith(p) for p in provinces)
        if r.id_number:
            assert is_valid_id_number(r.id_number)
            assert r.id_number[:6] in adcodes
            born = r.id_number[6:14]
            assert "19500101" <= born <= "20041231"


# ---------------------------------------------------------------------------- text files


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_every_encoding_round_trips(
    encoding: str, records: list[LeakRecord], tmp_path: Path
) -> None:
    path = tmp_path / "leak.csv"
    truth = write_leak_file(records, path, seed=5, options=LeakFileOptions(encoding=encoding))
    assert truth.encoding == encoding
    _check_rows(list(_text_rows(path, truth)), truth)
    _check_truncated(path, truth)


@pytest.mark.parametrize(
    ("delimiter", "layout", "header"),
    [
        (",", "merged", "odd"),
        ("\t", "split", "none"),
        ("|", "merged", "plain"),
        ("spaces", "split", "odd"),
        ("spaces", "merged", "none"),
    ],
)
def test_delimiters_layouts_and_headers(
    delimiter: str, layout: str, header: str, records: list[LeakRecord], tmp_path: Path
) -> None:
    options = LeakFileOptions(fmt="txt", delimiter=delimiter, layout=layout, header=header)  # type: ignore[arg-type]
    path = tmp_path / "leak.txt"
    truth = write_leak_file(records, path, seed=6, options=options)
    assert (truth.header is None) == (header == "none")
    assert truth.columns[0] == ("info" if layout == "merged" else "name")
    _check_rows(list(_text_rows(path, truth)), truth)


def test_truth_counts_are_exact(records: list[LeakRecord], tmp_path: Path) -> None:
    options = LeakFileOptions(duplicate_share=0.1, untrue_share=0.05, ragged_share=0.05)
    truth = write_leak_file(records, tmp_path / "leak.csv", seed=7, options=options)
    n = len(records)
    assert truth.persons == n  # synthetic records are distinct people
    assert truth.duplicate_rows == round(n * 0.1)
    assert truth.untrue_rows == round(n * 0.05)
    assert truth.truncated_last_row
    assert truth.rows == n + truth.duplicate_rows + truth.untrue_rows + 1
    rows = _text_rows(tmp_path / "leak.csv", truth)
    ragged = sum(len(r) != len(truth.columns) for r in rows[:-1])
    assert ragged == truth.ragged_rows > 0
    counts = truth.as_dict()
    assert counts["rows"] == truth.rows
    assert counts["persons"] == n
    assert "record_phone" not in counts  # the counts carry no personal data
    detail = truth.as_dict(detail=True)
    assert len(detail["row_kind"]) == truth.rows
    assert detail["record_phone"][0] == records[0].phone
    write_truth(truth, tmp_path / "leak.truth.json")
    assert json.loads((tmp_path / "leak.truth.json").read_text("utf-8")) == detail


def test_every_phone_spelling_occurs_as_counted(records: list[LeakRecord], tmp_path: Path) -> None:
    path = tmp_path / "leak.csv"
    truth = write_leak_file(records, path, seed=8, options=LeakFileOptions(encoding="gb18030"))
    rows = _text_rows(path, truth)[:-1]  # the truncated copy is not counted
    seen: Counter[str] = Counter()
    for row in rows:
        cell = row[truth.columns.index("phone")]
        shapes = [name for name, shape in SPELLING_SHAPES.items() if shape.fullmatch(cell)]
        assert len(shapes) == 1, "each phone has exactly one spelling"
        seen[shapes[0]] += 1
    assert set(seen) == set(PHONE_SPELLINGS)
    assert dict(seen) == dict(truth.phone_spellings)


def test_spell_phone_forms_all_normalise_back() -> None:
    for spelling in PHONE_SPELLINGS:
        for spaces in (True, False):
            text = spell_phone("13812345678", spelling, spaces_allowed=spaces)
            assert normalise_cn_mobile(text) == "13812345678"
            assert spaces or " " not in text
    with pytest.raises(ValueError, match="unknown phone spelling"):
        spell_phone("13812345678", "roman")


def test_same_seed_same_bytes(records: list[LeakRecord], tmp_path: Path) -> None:
    for fmt in ("csv", "xlsx"):
        a, b, c = (tmp_path / f"{x}.{fmt}" for x in "abc")
        options = LeakFileOptions(fmt=fmt)  # type: ignore[arg-type]
        write_leak_file(records, a, seed=9, options=options)
        write_leak_file(records, b, seed=9, options=options)
        write_leak_file(records, c, seed=10, options=options)
        assert a.read_bytes() == b.read_bytes()
        assert a.read_bytes() != c.read_bytes()


def test_records_sharing_a_phone_or_id_are_one_person(
    records: list[LeakRecord], tmp_path: Path
) -> None:
    base = records[:5]
    with_id = next(r for r in records[5:] if r.id_number)
    twins = [
        *base,
        LeakRecord(
            base[0].name, "+86 " + base[0].phone, "另一个地址"
        ),  # same phone, other spelling
        LeakRecord("某某", records[6].phone, base[1].address, id_number=with_id.id_number),
        with_id,  # shares its ID number with the record before
    ]
    options = LeakFileOptions(
        duplicate_share=0, untrue_share=0, ragged_share=0, truncate_last=False
    )
    truth = write_leak_file(twins, tmp_path / "t.csv", seed=1, options=options)
    assert truth.rows == 8
    assert truth.persons == 6
    assert truth.duplicate_rows == 2
    assert truth.record_person[0] == truth.record_person[5]
    assert truth.record_person[6] == truth.record_person[7]
    assert truth.virtual_number_records == 0


def test_a_virtual_number_alone_is_not_a_person(records: list[LeakRecord], tmp_path: Path) -> None:
    """As Art. 11 counting in ingest: it names the employee it was issued to."""
    with_id = next(r for r in records if r.id_number)
    rows = [
        records[0],
        LeakRecord("赵六", "17012345678", "湖北省荆州市沙市区"),  # virtual number only
        LeakRecord("赵六", "170-1234-5678", "湖北省荆州市沙市区"),  # the same one again
        LeakRecord(with_id.name, "17112345678", with_id.address, id_number=with_id.id_number),
    ]
    options = LeakFileOptions(
        duplicate_share=0, untrue_share=0, ragged_share=0, truncate_last=False
    )
    truth = write_leak_file(rows, tmp_path / "v.csv", seed=2, options=options)
    assert truth.persons == 2  # records[0], and the one with an ID number
    assert truth.virtual_number_records == 1
    assert truth.duplicate_rows == 1
    assert truth.as_dict()["virtual_number_records"] == 1


# ------------------------------------------------------------------------------ workbooks


@pytest.mark.parametrize("fmt", ["xlsx", "xls"])
def test_workbooks_have_several_sheets_and_the_truth(
    fmt: str, records: list[LeakRecord], tmp_path: Path
) -> None:
    if fmt == "xls":
        pytest.importorskip("xlwt")
    path = tmp_path / f"leak.{fmt}"
    options = LeakFileOptions(fmt=fmt, sheets=3, numeric_phone_share=0.5)  # type: ignore[arg-type]
    truth = write_leak_file(records, path, seed=12, options=options)
    assert not truth.truncated_last_row
    assert truth.encoding is None
    book = CalamineWorkbook.from_path(str(path))
    assert book.sheet_names == list(truth.sheets)
    assert len(truth.sheets) == 3
    rows: list[list[object]] = []
    for s, name in enumerate(book.sheet_names):
        sheet = book.get_sheet_by_name(name).to_python()
        assert [str(c) for c in sheet[0][: len(truth.columns)]] == list(truth.header or ())
        body = [list(r) for r in sheet[1:]]
        assert np.all(truth.row_sheet[len(rows) : len(rows) + len(body)] == s)
        # calamine pads short rows to the widest; drop the padding before comparing widths
        for row in body:
            while row and row[-1] == "" and len(row) > len(truth.columns):
                row.pop()
        rows += body
    numeric = sum(isinstance(r[truth.columns.index("phone")], float) for r in rows)
    assert numeric == truth.numeric_phones > 0
    _check_rows(rows, truth)


def test_xls_needs_xlwt_only_when_asked(
    records: list[LeakRecord], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "xlwt", None)  # as if it were not installed
    with pytest.raises(BadInput, match="xlwt"):
        write_leak_file(records, tmp_path / "x.xls", seed=1, options=LeakFileOptions(fmt="xls"))
    assert not (tmp_path / "x.xls").exists()
    write_leak_file(records, tmp_path / "x.xlsx", seed=1, options=LeakFileOptions(fmt="xlsx"))


# ------------------------------------------------------------------------------ bad input


def test_bad_records_are_named_without_their_content(
    records: list[LeakRecord], tmp_path: Path
) -> None:
    path = tmp_path / "leak.csv"
    bad_phone = [*records[:3], LeakRecord("王五", "1234567", "湖北省荆州市沙市区")]
    with pytest.raises(BadInput, match=r"records\[3\]\.phone") as caught:
        write_leak_file(bad_phone, path, seed=1)
    assert "1234567" not in str(caught.value)
    bad_id = [LeakRecord("王五", "13812345678", "湖北省", id_number="110105194912310021")]
    with pytest.raises(BadInput, match=r"records\[0\]\.id_number"):
        write_leak_file(bad_id, path, seed=1)
    not_gbk = [*records[:2], LeakRecord("王\U0001f600", records[2].phone, "湖北省")]
    with pytest.raises(BadInput, match=r"records\[2\]: has a character that gbk cannot write"):
        write_leak_file(not_gbk, path, seed=1)
    with pytest.raises(BadInput, match="space-delimited"):
        write_leak_file(
            [LeakRecord("王 五", "13812345678", "湖北省")],
            path,
            seed=1,
            options=LeakFileOptions(delimiter="spaces"),
        )
    with pytest.raises(BadInput, match="option encoding"):
        write_leak_file(records, path, seed=1, options=LeakFileOptions(encoding="latin-1"))
    with pytest.raises(BadInput, match="at least one record"):
        write_leak_file([], path, seed=1)
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a temporary file


# ------------------------------------------------------------------------------ bulk mode


def test_bulk_file_matches_its_truth(tmp_path: Path) -> None:
    path = tmp_path / "bulk.csv"
    truth = write_bulk_leak(path, 30_000, seed=3, chunk_rows=7_000, pool=2_000)
    assert truth.rows == 30_000
    assert truth.duplicate_rows == round(29_999 * 0.05)
    assert truth.untrue_rows == round(29_999 * 0.02)
    assert truth.persons == 29_999 - truth.duplicate_rows - truth.untrue_rows
    assert set(truth.phone_spellings) == set(PHONE_SPELLINGS)
    assert 0.3 < np.mean(truth.record_id17 >= 0) < 0.4
    _check_rows(list(_text_rows(path, truth)), truth)
    _check_truncated(path, truth)


@pytest.mark.parametrize(
    ("encoding", "delimiter", "layout"),
    [("utf-8-sig", "\t", "merged"), ("utf-8", "spaces", "split"), ("gb18030", "|", "merged")],
)
def test_bulk_options(encoding: str, delimiter: str, layout: str, tmp_path: Path) -> None:
    path = tmp_path / "bulk.txt"
    options = LeakFileOptions(
        fmt="txt",
        encoding=encoding,
        delimiter=delimiter,
        layout=layout,
        header="none",  # type: ignore[arg-type]
    )
    truth = write_bulk_leak(path, 3_000, seed=4, options=options, pool=500)
    assert truth.header is None
    _check_rows(list(_text_rows(path, truth)), truth)


def test_bulk_same_seed_same_bytes_and_bad_options(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    write_bulk_leak(a, 5_000, seed=1, chunk_rows=1_000, pool=300)
    write_bulk_leak(b, 5_000, seed=1, chunk_rows=1_000, pool=300)
    assert a.read_bytes() == b.read_bytes()
    with pytest.raises(BadInput, match="encoding"):
        write_bulk_leak(tmp_path / "c.csv", 10, seed=1, options=LeakFileOptions(encoding="utf-16"))
    with pytest.raises(BadInput, match="csv or txt"):
        write_bulk_leak(tmp_path / "c.xlsx", 10, seed=1, options=LeakFileOptions(fmt="xlsx"))
    assert not (tmp_path / "c.csv").exists()
