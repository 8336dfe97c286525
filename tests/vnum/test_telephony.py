"""The in-process telephony: the phone is fetched only for a connected call, and never shown."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from parcelguard.core.phone import InvalidPhone
from parcelguard.vnum import Call, CallResult, InProcessTelephony, Telephony, VirtualNumbers
from tests.vnum.conftest import DAY, NUMBERS, T0

W1 = "PG316508274413"
PHONE = "13912345678"  # synthetic
PHONES = {W1: PHONE}


@pytest.fixture
def switch(vnums: VirtualNumbers) -> tuple[InProcessTelephony, list[str], str]:
    vnums.provision(NUMBERS[:2])
    number = vnums.bind(W1, "E1", "D1", T0 + 3 * DAY, T0).number
    asked: list[str] = []

    def reveal_phone(waybill_no: str) -> str:
        asked.append(waybill_no)
        return PHONES[waybill_no]

    return InProcessTelephony(vnums, reveal_phone), asked, number


def test_a_connected_call_reaches_the_recipient(switch, caplog: pytest.LogCaptureFixture) -> None:
    telephony, asked, number = switch
    assert isinstance(telephony, Telephony)
    with caplog.at_level(logging.DEBUG):
        result = telephony.connect(Call(number, "D1", T0 + DAY))
    assert result.connected
    assert result.recipient_phone == PHONE
    assert result.recipient_masked == "139******78"
    assert asked == [W1]
    shown = repr(result) + repr(result.decision) + str(result.as_dict()) + repr(telephony)
    assert PHONE not in shown
    assert PHONE not in caplog.text
    assert number in caplog.text  # the switch's own record: virtual number and reason
    assert "connected" in caplog.text


@pytest.mark.parametrize(("caller", "days"), [("BUYER-PHONE", 1), ("D1", 4)])
def test_a_refused_call_never_asks_for_the_phone(switch, caller: str, days: int) -> None:
    telephony, asked, number = switch
    result = telephony.connect(Call(number, caller, T0 + days * DAY))
    assert not result.connected
    assert result.recipient_phone is None
    assert result.recipient_masked is None
    assert asked == []


def test_a_bad_phone_from_the_provider_fails_without_echoing_it(switch) -> None:
    telephony, _, number = switch
    PHONES[W1] = "1391234567x"
    try:
        with pytest.raises(InvalidPhone) as caught:
            telephony.connect(Call(number, "D1", T0 + DAY))
        assert "1391234567" not in str(caught.value)
    finally:
        PHONES[W1] = PHONE


def test_a_call_result_cannot_contradict_its_decision(vnums: VirtualNumbers) -> None:
    vnums.provision(NUMBERS[:1])
    refused = vnums.route(NUMBERS[0], "D1", T0 + timedelta(hours=1))
    with pytest.raises(ValueError, match="exactly when it was connected"):
        CallResult(refused, PHONE)
