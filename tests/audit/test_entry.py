from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parcelguard.audit.entry import (
    TEXT_FIELDS,
    AuditEntry,
    EntryError,
    decode_entry,
    encode_entry,
)

SAMPLE = AuditEntry.at(
    42,
    datetime(2016, 10, 3, 9, 15, 2, 123456, tzinfo=timezone(timedelta(hours=8))),
    actor="E001423",
    action="reveal",
    waybill_no="PG316508274413",
    field="phone",
    purpose="exception",
    decision="allow",
    reason="legacy_lookup",
    policy_id="legacy.nationwide",
    request_id="r-7f3a",
    channel="web",
    device="WE001423",
)


def test_the_encoding_is_the_documented_one() -> None:
    data = encode_entry(SAMPLE)
    assert data[0] == 1
    assert int.from_bytes(data[1:9], "big") == 42
    assert int.from_bytes(data[9:17], "big", signed=True) == 1475457302123456
    assert data[17] == len("E001423")
    assert data[18:25] == b"E001423"
    assert decode_entry(data) == SAMPLE
    assert SAMPLE.time == datetime(2016, 10, 3, 1, 15, 2, 123456, tzinfo=UTC)


@given(
    st.integers(0, 2**64 - 1),
    st.integers(-(2**62), 2**62),
    st.lists(
        st.from_regex(r"[A-Za-z0-9_.:\-/+@#]{0,40}", fullmatch=True),
        min_size=len(TEXT_FIELDS),
        max_size=len(TEXT_FIELDS),
    ),
)
def test_every_entry_round_trips(sequence: int, time_us: int, text: list[str]) -> None:
    values = dict(zip(TEXT_FIELDS, text, strict=True))
    if values["waybill_no"].isdigit() and len(values["waybill_no"]) == 11:
        values["waybill_no"] = "PG" + values["waybill_no"]
    entry = AuditEntry(sequence, time_us, **values)
    try:
        data = encode_entry(entry)
    except EntryError:
        return  # shaped like a phone number: refused on purpose
    assert decode_entry(data) == entry


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"actor": "王五"}, "actor may hold only ASCII"),
        ({"reason": "recipient lives at 3 Main St"}, "reason may hold only ASCII"),
        ({"waybill_no": "13812345678"}, "looks like a phone number"),
        ({"waybill_no": "+8613812345678"}, "looks like a phone number"),
        ({"request_id": "x" * 129}, "longer than 128 bytes"),
    ],
)
def test_no_personal_data_can_enter(change: dict[str, str], message: str) -> None:
    values = {name: getattr(SAMPLE, name) for name in TEXT_FIELDS} | change
    with pytest.raises(EntryError, match=message) as info:
        encode_entry(AuditEntry(SAMPLE.sequence, SAMPLE.time_us, **values))
    for value in change.values():
        assert value not in str(info.value)


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda b: b[:5], "at least 17 bytes"),
        (lambda b: b"\x02" + b[1:], "unknown entry version 2"),
        (lambda b: b + b"\x00", "1 bytes follow the last field"),
        (lambda b: b[:-3], "ends inside device"),
        (lambda b: b[:18] + b"\xff" + b[19:], "actor holds bytes"),
    ],
)
def test_bytes_that_are_not_an_entry_are_refused(mangle, message: str) -> None:
    with pytest.raises(EntryError, match=message):
        decode_entry(mangle(encode_entry(SAMPLE)))


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(EntryError, match="time zone"):
        AuditEntry.at(0, datetime(2016, 10, 3), actor="E1", action="login")
