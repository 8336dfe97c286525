from datetime import UTC, datetime, timedelta

import pytest

from parcelguard.core.errors import Problem
from parcelguard.core.waybill import NewWaybill, WaybillRules, parse_waybill

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
GOOD = {
    "waybill_no": "PG316508274413",
    "sender_id": "S0001",
    "category": "collectibles",
    "created_at": "2026-11-24T09:15:02+08:00",
    "origin_site_id": "ST0001",
    "dest_site_id": "ST0002",
    "dest_adcode": "421002",
    "recipient_name": "王五",
    "recipient_phone": "+86 138-1234-5678",
    "recipient_address": "湖北省荆州市沙市区北京中路88号阳光小区3栋2单元501室",
}


def parse(**changes: object) -> NewWaybill | list[Problem]:
    return parse_waybill({**GOOD, **changes}, "f.csv:2", WaybillRules(), NOW)


def test_a_good_record_is_normalised() -> None:
    waybill = parse()
    assert isinstance(waybill, NewWaybill)
    assert waybill.recipient_phone == "13812345678"
    assert waybill.created_at == datetime(2026, 11, 24, 1, 15, 2, tzinfo=UTC)


def test_repr_never_shows_personal_fields() -> None:
    text = repr(parse())
    assert "王五" not in text
    assert "13812345678" not in text
    assert "北京中路" not in text


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"waybill_no": ""}, "missing"),
        ({"waybill_no": "SF1234567890123"}, "malformed_waybill_no"),
        ({"waybill_no": "PG12345"}, "malformed_waybill_no"),
        ({"recipient_phone": "12345"}, "invalid_phone"),
        ({"category": "weapons"}, "unknown_category"),
        ({"dest_adcode": "4210"}, "malformed_adcode"),
        ({"dest_adcode": "991002"}, "unknown_adcode"),
        ({"created_at": "yesterday"}, "malformed_time"),
        ({"created_at": "2026-11-24T09:15:02"}, "naive_time"),
        ({"created_at": (NOW + timedelta(hours=5)).isoformat()}, "future_time"),
        ({"recipient_address": "x" * 10_000}, "too_long"),
        ({"recipient_name": 42}, "not_text"),
        ({"sender_id": "S 1"}, "malformed_id"),
    ],
)
def test_bad_fields_are_named_with_their_place(changes: dict[str, object], code: str) -> None:
    problems = parse(**changes)
    assert isinstance(problems, list)
    assert [p.code for p in problems] == [code]
    assert problems[0].where == "f.csv:2"
    assert str(problems[0]).startswith("f.csv:2: " + next(iter(changes)))


def test_problems_never_quote_personal_values() -> None:
    problems = parse(recipient_phone="139876543", category="王五 13812345678")
    assert isinstance(problems, list)
    text = " ".join(str(p) for p in problems)
    assert "139876543" not in text
    assert "王五" not in text
    assert "13812345678" not in text


def test_the_waybill_pattern_is_configurable() -> None:
    rules = WaybillRules.with_pattern(r"ZZ\d{8}")
    waybill = parse_waybill({**GOOD, "waybill_no": "ZZ12345678"}, "x", rules, NOW)
    assert isinstance(waybill, NewWaybill)
