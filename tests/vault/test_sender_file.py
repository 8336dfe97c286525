"""A sender system's file: every bad input named by file, line and problem; nothing half-written."""

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from parcelguard.core.errors import BadInput, BadRecords
from parcelguard.core.waybill import COLUMNS, NewWaybill
from parcelguard.vault import Vault
from parcelguard.vault.sender_file import read_sender_file
from tests.conftest import recent_waybills


def as_raw(w: NewWaybill) -> dict[str, str]:
    return {
        "waybill_no": w.waybill_no,
        "sender_id": w.sender_id,
        "category": w.category,
        "created_at": w.created_at.isoformat(),
        "origin_site_id": w.origin_site_id,
        "dest_site_id": w.dest_site_id,
        "dest_adcode": w.dest_adcode,
        "recipient_name": w.recipient_name,
        "recipient_phone": w.recipient_phone,
        "recipient_address": w.recipient_address,
    }


def csv_text(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def jsonl_text(rows: list[dict[str, str]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def put_file(vault: Vault, path: Path) -> object:
    return vault.put_parsed(read_sender_file(path, vault_rules(), datetime.now(UTC)))


def vault_rules():
    from parcelguard.core.waybill import WaybillRules

    return WaybillRules()


def assert_nothing_written(vault: Vault) -> None:
    assert vault.stats()["waybills"] == 0


def assert_no_plaintext(message: str, batch: list[NewWaybill]) -> None:
    for w in batch:
        for value in (w.recipient_name, w.recipient_phone, w.recipient_address):
            assert value not in message


@pytest.fixture
def batch() -> list[NewWaybill]:
    return recent_waybills(5)


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_a_good_file_is_stored_whole(
    vault: Vault, tmp_path: Path, batch: list[NewWaybill], kind: str
) -> None:
    path = tmp_path / f"in.{kind}"
    rows = [as_raw(w) for w in batch]
    path.write_text(csv_text(rows) if kind == "csv" else jsonl_text(rows), encoding="utf-8")
    put_file(vault, path)
    assert vault.stats()["waybills"] == 5


def test_a_bom_and_crlf_line_ends_are_accepted(
    vault: Vault, tmp_path: Path, batch: list[NewWaybill]
) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(
        b"\xef\xbb\xbf" + csv_text([as_raw(w) for w in batch]).replace("\n", "\r\n").encode()
    )
    put_file(vault, path)
    assert vault.stats()["waybills"] == 5


BAD_ROWS = [
    ("waybill_no", "", "in.csv:3: waybill_no is missing"),
    ("waybill_no", "PG12", "in.csv:3: waybill_no is not one of this carrier's waybill numbers"),
    ("recipient_phone", "1381234", "in.csv:3: recipient_phone is not a Chinese mobile number"),
    ("recipient_address", "路" * 10_000_000, "in.csv:3: not valid CSV (a field is longer than"),
    ("created_at", "2026-13-01T00:00:00+08:00", "in.csv:3: created_at is not an ISO 8601 time"),
]


@pytest.mark.parametrize(("column", "value", "expected"), BAD_ROWS)
def test_a_bad_row_is_named_and_the_file_writes_nothing(
    vault: Vault, tmp_path: Path, batch: list[NewWaybill], column: str, value: str, expected: str
) -> None:
    rows = [as_raw(w) for w in batch]
    rows[1][column] = value
    path = tmp_path / "in.csv"
    path.write_text(csv_text(rows), encoding="utf-8")
    with pytest.raises(BadInput) as info:
        put_file(vault, path)
    assert info.value.message.startswith(f"{tmp_path}/{expected}")
    assert info.value.message.endswith("nothing was written")
    assert_no_plaintext(info.value.message, batch)
    assert_nothing_written(vault)


def test_a_duplicate_waybill_in_the_file_names_both_lines(
    vault: Vault, tmp_path: Path, batch: list[NewWaybill]
) -> None:
    rows = [as_raw(w) for w in batch]
    rows[4]["waybill_no"] = rows[1]["waybill_no"]
    path = tmp_path / "in.csv"
    path.write_text(csv_text(rows), encoding="utf-8")
    with pytest.raises(BadRecords, match=r"in\.csv:6: waybill_no repeats the one at .*in\.csv:3"):
        put_file(vault, path)
    assert_nothing_written(vault)


def test_a_waybill_already_stored_is_refused(
    vault: Vault, tmp_path: Path, batch: list[NewWaybill]
) -> None:
    vault.put(batch[:1])
    path = tmp_path / "in.jsonl"
    path.write_text(jsonl_text([as_raw(w) for w in batch]), encoding="utf-8")
    with pytest.raises(BadRecords, match=r"in\.jsonl:1: waybill_no is already in the vault"):
        put_file(vault, path)
    assert vault.stats()["waybills"] == 1


def test_every_problem_is_counted(vault: Vault, tmp_path: Path, batch: list[NewWaybill]) -> None:
    rows = [as_raw(w) for w in batch]
    for row in rows:
        row["recipient_phone"] = "123"
    path = tmp_path / "in.csv"
    path.write_text(csv_text(rows), encoding="utf-8")
    with pytest.raises(BadRecords, match=r"and 4 more problems") as info:
        put_file(vault, path)
    assert info.value.total == 5


def test_a_gbk_file_is_named_with_a_hint(
    vault: Vault, tmp_path: Path, batch: list[NewWaybill]
) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(csv_text([as_raw(w) for w in batch]).encode("gbk"))
    with pytest.raises(BadInput, match=r"in\.csv:2: not UTF-8 .*GBK/GB18030") as info:
        put_file(vault, path)
    assert_no_plaintext(info.value.message, batch)
    assert_nothing_written(vault)


def test_a_non_utf8_line_late_in_the_file_rolls_back_everything(
    vault: Vault, tmp_path: Path
) -> None:
    batch = recent_waybills(6000)  # more than one internal chunk is written before the bad line
    text = jsonl_text([as_raw(w) for w in batch])
    path = tmp_path / "in.jsonl"
    path.write_bytes(text.encode() + json.dumps({"waybill_no": "PG000000000001"}).encode("utf-16"))
    with pytest.raises(BadInput, match=r"in\.jsonl:6001: not UTF-8"):
        put_file(vault, path)
    assert_nothing_written(vault)


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_a_truncated_last_line_is_named(
    vault: Vault, tmp_path: Path, batch: list[NewWaybill], kind: str
) -> None:
    rows = [as_raw(w) for w in batch]
    text = csv_text(rows) if kind == "csv" else jsonl_text(rows)
    path = tmp_path / f"in.{kind}"
    path.write_text(text[: len(text) - 40], encoding="utf-8")
    last = 6 if kind == "csv" else 5
    with pytest.raises(BadRecords, match=rf"in\.{kind}:{last}: .*truncated") as info:
        put_file(vault, path)
    assert_no_plaintext(info.value.message, batch)
    assert_nothing_written(vault)


def test_an_unterminated_quote_is_named(
    vault: Vault, tmp_path: Path, batch: list[NewWaybill]
) -> None:
    text = csv_text([as_raw(w) for w in batch])
    path = tmp_path / "in.csv"
    path.write_text(text + 'PG000000000099,"S1', encoding="utf-8")
    with pytest.raises(BadRecords, match=r"in\.csv:7: not valid CSV"):
        put_file(vault, path)
    assert_nothing_written(vault)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "the file is empty"),
        (b"   \n", "the file is empty"),
        (",".join(COLUMNS).encode() + b"\n", "the header is followed by no waybills"),
        (
            b"waybill_no,sender_id\nPG000000000001,S1\n",
            "in.csv:1: the header lacks column(s) category",
        ),
        (
            (",".join(COLUMNS) + ",category\n").encode(),
            "in.csv:1: the header repeats column(s) category",
        ),
    ],
)
def test_file_level_problems(vault: Vault, tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    with pytest.raises(BadInput) as info:
        put_file(vault, path)
    assert expected in info.value.message
    assert_nothing_written(vault)


def test_json_lines_that_are_not_objects(vault: Vault, tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('["PG000000000001"]\n', encoding="utf-8")
    with pytest.raises(BadRecords, match=r"in\.jsonl:1: is not a JSON object"):
        put_file(vault, path)


def test_missing_and_directory_paths(vault: Vault, tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no such file"):
        put_file(vault, tmp_path / "nope.csv")
    with pytest.raises(BadInput, match="not a regular file"):
        put_file(vault, tmp_path)
