"""The signals that need no history, on constructed facts (pure)."""

from __future__ import annotations

from dataclasses import replace

from parcelguard.reveal.facts import Facts
from parcelguard.reveal.guard.signals import far, fresh_targeted, province, serial_of

NOW = 1_800_000_000
BASE = Facts(
    role="warehouse_clerk",
    site="WH-HB",
    active=True,
    device_registered=True,
    device_kind="workstation",
    dest_site="ST-HE",
    current_site="ST-HE",
    created_at=NOW - 3_600,
    assigned=False,
    assigned_from=0,
    assigned_until=0,
    dispatched_at=0,
    delivered_at=0,
    open_exception_at_actor_site=False,
    ticket_assigned_to_actor=False,
    case_open=False,
    case_justified=False,
    case_approved_by_other=False,
    site_kind="warehouse",
    site_adcode="420100",  # Wuhan, Hubei
    dest_adcode="130102",  # Shijiazhuang, Hebei
    where_adcode="130100",
    category="collectibles",
)


def test_far_needs_both_the_destination_and_the_parcel_in_other_provinces() -> None:
    assert far(BASE)
    assert not far(replace(BASE, dest_adcode="421002"))  # bound for Hubei
    assert not far(replace(BASE, where_adcode="420100"))  # in the actor's own hub now
    assert not far(replace(BASE, site_adcode=""))  # unknown: no signal from missing data
    assert province("420100") == "42"
    assert province("x") == ""


def test_fresh_targeted_is_young_and_of_a_category_buyers_want() -> None:
    two_days = 48 * 3_600
    assert fresh_targeted(BASE, NOW, two_days)
    assert not fresh_targeted(replace(BASE, created_at=NOW - two_days), NOW, two_days)
    assert not fresh_targeted(replace(BASE, category="books"), NOW, two_days)
    assert fresh_targeted(replace(BASE, category="medicine"), NOW, two_days)


def test_serials_are_the_numbers_trailing_digits() -> None:
    assert serial_of("PG000000012345") == 12345
    assert serial_of("SF1123456789012") == 1_123_456_789_012
    assert serial_of("not a number") is None
    assert serial_of("ABCDEFG12") is None  # a long letter prefix is not a waybill shape
    assert serial_of("1" * 20) is None
