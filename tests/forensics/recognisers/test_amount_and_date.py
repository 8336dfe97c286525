"""Amounts in yuan and calendar dates."""

from __future__ import annotations

import pytest

from parcelguard.forensics.recognisers import AmountRecogniser, DateRecogniser
from tests.forensics.recognisers import run_expr, run_extract

AMOUNT = AmountRecogniser()
DATE = DateRecogniser()


@pytest.mark.parametrize(
    ("cell", "yuan"),
    [
        ("¥1,234.50", "1234.50"),
        ("￥1234.5", "1234.50"),
        ("1234元", "1234.00"),
        ("RMB 12.5", "12.50"),
        ("cny12", "12.00"),
        ("人民币30元", "30.00"),
        ("12.50", "12.50"),  # a whole cell with two decimals
        ("¥007.10", "7.10"),
    ],
)
def test_amounts(cell: str, yuan: str) -> None:
    assert AMOUNT.normalise(cell) == yuan
    assert run_expr(AMOUNT, [cell]) == [yuan]


@pytest.mark.parametrize("cell", ["1234", "12.345元", "1,23,4元", "¥", "13812345678", "2016-05-01"])
def test_not_amounts(cell: str) -> None:
    assert AMOUNT.normalise(cell) is None
    assert run_expr(AMOUNT, [cell]) == [None]


def test_amounts_in_free_text_need_a_currency() -> None:
    text = "单价 12.50 实付¥1,234.50 运费8元"
    assert [f.normalised for f in AMOUNT.find(text)] == ["1234.50", "8.00"]
    assert run_extract(AMOUNT, [text]) == ["1234.50"]


@pytest.mark.parametrize(
    "cell",
    [
        "2016-05-01",
        "2016/5/1",
        "2016.5.1",
        "2016年5月1日",
        "2016年05月01日",
        "20160501",
        "2016-05-01 08:30",
        "2016-05-01T08:30:59",
        "２０１６－０５－０１",
    ],
)
def test_dates(cell: str) -> None:
    assert DATE.normalise(cell) == "2016-05-01"
    assert run_expr(DATE, [cell]) == ["2016-05-01"]


@pytest.mark.parametrize(
    ("cell", "iso"),
    [
        ("2016-02-30", None),  # no 30 February
        ("2015-02-29", None),
        ("2016-02-29", "2016-02-29"),
        ("2000-02-29", "2000-02-29"),
        ("2100-02-29", None),  # 2100 is not a leap year
        ("1989-12-31", None),  # before 1990
        ("2101-01-01", None),
        ("20161301", None),
        ("2016-05-01 25:00", None),
        ("13812345678", None),
    ],
)
def test_calendar_and_range(cell: str, iso: str | None) -> None:
    assert DATE.normalise(cell) == iso
    assert run_expr(DATE, [cell]) == [iso]


def test_dates_in_free_text_and_not_inside_numbers() -> None:
    text = "下单时间2016年5月1日 签收 2016/05/03 编号 1201605019"
    assert [f.normalised for f in DATE.find(text)] == ["2016-05-01", "2016-05-03"]
    assert DATE.find("PG201605010001") == []
    assert run_extract(DATE, [text, "1201605019"]) == ["2016-05-01", None]
