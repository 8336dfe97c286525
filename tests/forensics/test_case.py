from pathlib import Path

import pyarrow as pa
import pytest

from parcelguard.core.errors import BadInput
from parcelguard.forensics.case import PERSONS_SCHEMA, CaseDir, case_name_of_file


def test_case_names_cannot_leave_the_cases_folder(tmp_path: Path) -> None:
    for bad in ["../x", "a/b", "", ".hidden", "x" * 101, "abc\n"]:
        with pytest.raises(BadInput, match="case"):
            CaseDir.under(tmp_path, bad)
    assert (
        CaseDir.under(tmp_path, "荆州-2016_v1.csv").root == tmp_path / "cases" / "荆州-2016_v1.csv"
    )


def test_default_case_name_comes_from_the_file_name() -> None:
    assert case_name_of_file(Path("/x/黑市 样本 (1).txt")) == "黑市-样本-1"
    assert case_name_of_file(Path("/x/...csv")) == "case"
    assert case_name_of_file(Path("/x/_leak.txt")) == "leak"


def test_a_missing_case_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="leak ingest"):
        CaseDir.under(tmp_path, "nope").require()


def test_persons_round_trip_and_a_wrong_table_is_refused(tmp_path: Path) -> None:
    case = CaseDir.under(tmp_path, "c1")
    table = pa.table(
        {
            "person_id": [0, 1],
            "phone_bidx": [b"\x01" * 16, None],
            "name_phone_bidx": [None, None],
            "id_digest": [None, b"\x02" * 16],
            "phone_masked": ["138****5678", None],
            "name_masked": ["张*", None],
            "adcode": ["421002", None],
            "virtual_number": [None, None],
            "waybill_no": [None, "PG0000000001"],
            "rows": [2, 1],
            "first_row": [1, 3],
        }
    )
    case.write_persons(table)
    assert case.read_persons().to_pylist() == table.cast(PERSONS_SCHEMA).to_pylist()
    with pytest.raises(KeyError):
        case.write_persons(table.drop_columns(["rows"]))
    assert case.read_persons().num_rows == 2  # the failed write left the old table whole
    (case.root / "persons.parquet").write_bytes(b"not parquet")
    with pytest.raises(BadInput, match="unreadable"):
        case.read_persons()


def test_json_files_are_written_whole_and_read_back(tmp_path: Path) -> None:
    case = CaseDir.under(tmp_path, "c1")
    case.write_json(case.case_file, {"rows_read": 3, "name": "荆州"})
    assert case.exists()
    assert case.read_json(case.case_file) == {"rows_read": 3, "name": "荆州"}
    case.case_file.write_text("[1]", encoding="utf-8")
    with pytest.raises(BadInput, match="not a JSON object"):
        case.read_json(case.case_file)
    assert not list(case.root.glob("*.tmp"))
