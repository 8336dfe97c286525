"""Waybill numbers: ours (configurable) and other carriers', the carrier named."""

from __future__ import annotations

import polars as pl
import pytest

from parcelguard.core.errors import BadInput
from parcelguard.forensics.recognisers import WaybillRecogniser
from tests.forensics.recognisers import first_found, run_expr, run_extract

WAYBILL = WaybillRecogniser()


@pytest.mark.parametrize(
    ("cell", "carrier"),
    [
        ("PG123456789012", "ours"),
        (" pg123456789012 ", "ours"),
        ("SF1234567890123", "sf"),
        ("EA123456789CN", "ems"),
        ("JDVA12345678901", "jd"),
        ("YT1234567890123", "yto"),
        ("75123456789012", "zto"),
        ("4312345678901", "yunda"),
        ("771234567890", "sto"),
    ],
)
def test_carriers_formats(cell: str, carrier: str) -> None:
    canonical = cell.strip().upper()
    assert WAYBILL.normalise(cell) == canonical
    assert WAYBILL.carrier_of(canonical) == carrier
    assert WAYBILL.reason(canonical) == f"carrier:{carrier}"
    assert run_expr(WAYBILL, [cell]) == [canonical]
    assert WAYBILL.carrier_batch(pl.Series([cell])).to_list() == [carrier]


@pytest.mark.parametrize(
    "cell",
    ["PG12345678901", "PG1234567890123", "13812345678", "SF123", "11010519491231002X", "张三"],
)
def test_near_misses_are_not_waybills(cell: str) -> None:
    assert WAYBILL.normalise(cell) is None
    assert run_expr(WAYBILL, [cell]) == [None]
    with pytest.raises(BadInput):
        WAYBILL.carrier_of(cell)


def test_our_pattern_is_configuration() -> None:
    custom = WaybillRecogniser(waybill_pattern=r"ZZ\d{10}")
    assert custom.carrier_of("ZZ0123456789") == "ours"
    assert custom.normalise("PG123456789012") is None
    assert run_expr(custom, ["zz0123456789"]) == ["ZZ0123456789"]
    with pytest.raises(BadInput, match="waybill pattern"):
        WaybillRecogniser(waybill_pattern="PG[")


def test_find_waybills_and_not_the_phone_shaped_run_inside() -> None:
    text = "运单号 SF1381234567890 收件人 13912345678 本司 PG123456789012"
    found = WAYBILL.find(text)
    assert [(f.normalised, f.reason) for f in found] == [
        ("SF1381234567890", "carrier:sf+context"),
        ("PG123456789012", "carrier:ours"),
    ]
    assert found[1].score > found[0].score - 0.1  # ours scores high without context
    assert run_extract(WAYBILL, [text]) == [first_found(WAYBILL, text)]
    assert WAYBILL.find("XPG123456789012") == []
