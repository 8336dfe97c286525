"""The shape of virtual numbers: normalising what people write, and provisioning ranges."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parcelguard.vnum.numbers import (
    InvalidVirtualNumber,
    check_prefixes,
    is_virtual_number,
    normalise_virtual_number,
    pool_numbers,
)


@pytest.mark.parametrize(
    "text",
    [
        "17091234567",
        "170 9123 4567",
        "170-9123-4567",
        "+86 170 9123 4567",
        "+8617091234567",
        "0086-17091234567",
        "８６ １７０９１２３４５６７",  # full-width, as pasted from a Chinese form
        "(170) 9123.4567",
    ],
)
def test_what_people_write_normalises_to_eleven_digits(text: str) -> None:
    assert normalise_virtual_number(text) == "17091234567"


def test_171_is_a_default_range_too() -> None:
    assert normalise_virtual_number("171 0000 0001") == "17100000001"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("1709123456", "has 10 digits"),
        ("170912345678", "has 12 digits"),
        ("1709123456x", "characters other than digits"),
        ("13812345678", "not in a virtual-number range"),
    ],
)
def test_what_is_not_a_virtual_number_is_refused_without_echoing_it(
    text: str, problem: str
) -> None:
    with pytest.raises(InvalidVirtualNumber, match=problem) as caught:
        normalise_virtual_number(text)
    if text:
        assert text not in str(caught.value)  # it may be a recipient's real phone


def test_ranges_are_configurable() -> None:
    assert normalise_virtual_number("17001234567", prefixes=["1700"]) == "17001234567"
    assert not is_virtual_number("17091234567", prefixes=["1700"])
    assert is_virtual_number("+86 170 9123 4567")


@pytest.mark.parametrize("prefixes", [[], ["17"], ["17a"], ["27012"], ["17012345678"]])
def test_bad_configured_ranges_are_refused(prefixes: list[str]) -> None:
    with pytest.raises(InvalidVirtualNumber):
        check_prefixes(prefixes)


def test_pool_numbers_are_distinct_repeatable_and_in_range() -> None:
    first = list(pool_numbers("1709", 500, seed=3))
    assert len(set(first)) == 500
    assert all(len(n) == 11 and n.startswith("1709") and n.isdigit() for n in first)
    assert first == list(pool_numbers("1709", 500, seed=3))
    assert first != list(pool_numbers("1709", 500, seed=4))
    assert first != sorted(first)  # not consecutive: the order tells a buyer nothing


def test_a_prefix_can_be_exhausted_exactly() -> None:
    assert sorted(pool_numbers("1709123456", 10, seed=0)) == [f"1709123456{d}" for d in range(10)]
    with pytest.raises(InvalidVirtualNumber, match="holds 0 to 10 numbers"):
        list(pool_numbers("1709123456", 11, seed=0))


@pytest.mark.parametrize("prefix", ["1380", "17", "1709x"])
def test_pool_numbers_refuse_a_prefix_outside_the_ranges(prefix: str) -> None:
    with pytest.raises(InvalidVirtualNumber, match="prefix"):
        list(pool_numbers(prefix, 1, seed=0))


@given(st.integers(min_value=0, max_value=10**8 - 1), st.sampled_from(["", "+86", "0086"]))
def test_every_number_of_a_range_round_trips(suffix: int, country: str) -> None:
    number = f"170{suffix:08d}"
    spaced = f"{country} {number[:3]} {number[3:7]}-{number[7:]}"
    assert normalise_virtual_number(spaced) == number
