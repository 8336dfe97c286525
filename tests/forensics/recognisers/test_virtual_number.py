"""Virtual numbers: this carrier's ranges only, in the same spellings as mobiles."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from parcelguard.forensics.recognisers import VirtualNumberRecogniser
from parcelguard.vnum.numbers import normalise_virtual_number
from tests.forensics.recognisers import (
    first_found,
    run_expr,
    run_extract,
    spelled_mobile,
)

VNUM = VirtualNumberRecogniser()


def test_pool_ranges_are_virtual_numbers_and_others_are_not() -> None:
    assert VNUM.normalise("+86 170-1234-5678") == "17012345678"
    assert VNUM.normalise("171 0000 0001") == "17100000001"
    assert VNUM.normalise("13812345678") is None
    assert VNUM.normalise("1701234567") is None
    assert run_expr(VNUM, ["+86 170-1234-5678", "13812345678"]) == ["17012345678", None]


def test_the_ranges_are_configurable() -> None:
    narrow = VirtualNumberRecogniser(prefixes=["1709"])
    assert narrow.normalise("17091234567") == "17091234567"
    assert narrow.normalise("17012345678") is None
    assert run_expr(narrow, ["17091234567", "17012345678"]) == ["17091234567", None]


def test_find_in_a_merged_cell() -> None:
    [found] = VNUM.find("王五 隐私号 17012345678 转 1234")
    assert (found.normalised, found.reason) == ("17012345678", "vnum_prefix+context")
    assert VNUM.find("PG017012345678") == []


@settings(max_examples=50, deadline=None)
@given(st.lists(spelled_mobile(["170", "171", "138"]), min_size=1, max_size=40))
def test_generated_spellings_agree_with_the_pool_normalisation(
    pairs: list[tuple[str, str]],
) -> None:
    cells = [spelling for _, spelling in pairs]
    expected = [n if n.startswith(("170", "171")) else None for n, _ in pairs]
    assert [VNUM.normalise(c) for c in cells] == expected
    assert run_expr(VNUM, cells) == expected
    for cell, value in zip(cells, expected, strict=True):
        if value is not None:
            assert normalise_virtual_number(cell) == value
    texts = [f"联系 {c} 谢谢" for c in cells]
    assert run_extract(VNUM, texts) == [first_found(VNUM, t) for t in texts] == expected
