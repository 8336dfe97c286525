"""Columns are classified by sampling, with a confidence, and the header is found or not."""

from __future__ import annotations

import pytest

from parcelguard.forensics.classify import MERGED, UNKNOWN, classify, masked_header
from parcelguard.forensics.recognisers import default_recognisers
from parcelguard.simulate.leak_file import synthetic_records

RECOGNISERS = default_recognisers()
RECORDS = synthetic_records(60, seed=11, id_share=1.0)


def roles(rows: list[list[str | None]], width: int) -> tuple[bool, list[str]]:
    result = classify(rows, RECOGNISERS, width=width)
    assert all(0.0 <= c.confidence <= 1.0 for c in result.columns)
    return result.header, [c.role for c in result.columns]


def body(width: int = 4) -> list[list[str | None]]:
    rows: list[list[str | None]] = []
    for r in RECORDS:
        rows.append([r.name, r.phone, r.address, r.id_number][:width])
    return rows


@pytest.mark.parametrize(
    "header",
    [
        ["收件人", "收货人电话", "地址详情", "身份证"],
        ["客户", "联系方式", "收货地址", "证件号码"],
        ["姓名", "TEL", "详细地址", "证件号"],
    ],
)
def test_odd_chinese_headers_are_headers_and_help_the_roles(header: list[str]) -> None:
    found, kinds = roles([list(header), *body()], 4)
    assert found is True
    assert kinds == ["name", "mobile", "address", "id_number"]


def test_without_a_header_the_first_row_is_data() -> None:
    result = classify(body(), RECOGNISERS, width=4)
    assert result.header is False
    assert "recognise as values" in result.header_reason
    assert [c.role for c in result.columns] == ["name", "mobile", "address", "id_number"]
    assert result.sampled_rows == len(RECORDS)
    assert all(c.confidence >= 0.9 for c in result.columns)


def test_a_column_of_merged_cells_is_merged_with_its_roles() -> None:
    rows: list[list[str | None]] = [[f"{r.name} {r.phone} {r.address}"] for r in RECORDS]
    result = classify(rows, RECOGNISERS, width=1)
    (column,) = result.columns
    assert column.role == MERGED
    assert {"mobile", "address"} <= set(column.roles)
    assert column.confidence > 0.5


def test_a_column_of_words_is_unknown_and_placeholders_say_nothing() -> None:
    words = ["加急", "易碎", "ok", "-", "无", "—"] * 10
    rows: list[list[str | None]] = [[w, r.phone] for w, r in zip(words, RECORDS, strict=False)]
    _header, kinds = roles(rows, 2)
    assert kinds == [UNKNOWN, "mobile"]
    sparse: list[list[str | None]] = [
        [r.phone, r.id_number if i % 3 == 0 else "-"] for i, r in enumerate(RECORDS)
    ]
    assert roles(sparse, 2)[1] == ["mobile", "id_number"]


def test_a_header_over_poor_values_still_names_the_column() -> None:
    rows: list[list[str | None]] = [["手机号码", "身份证号码"]]
    rows += [[r.phone, "110101199003070000"] for r in RECORDS]  # every check digit wrong
    header, kinds = roles(rows, 2)
    assert header is True
    assert kinds == ["mobile", "id_number"]


def test_a_data_like_header_is_masked_in_reports() -> None:
    phone = RECORDS[0].phone
    assert masked_header("联系方式", RECOGNISERS) == "联系方式"
    masked = masked_header(phone, RECOGNISERS)
    assert masked != phone
    assert masked.startswith(phone[:3])
    assert "*" in masked
    as_dict = classify([[phone], *[[r.phone] for r in RECORDS]], RECOGNISERS, width=1)
    assert as_dict.header is False
