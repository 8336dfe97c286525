"""Mobile numbers: every spelling found, untrue and virtual numbers not, both paths agree."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parcelguard.core.phone import InvalidPhone, normalise_cn_mobile
from parcelguard.forensics.recognisers import MobileRecogniser
from parcelguard.forensics.recognisers.mobile import real_segments
from tests.forensics.recognisers import (
    first_found,
    run_expr,
    run_extract,
    run_rejection,
    spelled_mobile,
)

MOBILE = MobileRecogniser()
REAL = sorted(real_segments() - {"170", "171"})


@pytest.mark.parametrize(
    "cell",
    [
        "13812345678",
        "+86 138 1234 5678",
        "+86-138-1234-5678",
        "0086 13812345678",
        "8613812345678",
        "(+86)13812345678",
        "（+86）138-1234-5678",
        "１３８１２３４５６７８",
        "138.1234.5678",
        " 138 1234 5678 ",
    ],
)
def test_every_common_spelling_normalises_to_eleven_digits(cell: str) -> None:
    assert MOBILE.normalise(cell) == "13812345678"
    assert run_expr(MOBILE, [cell]) == ["13812345678"]


@pytest.mark.parametrize(
    ("cell", "why"),
    [
        ("1381234567", None),  # 10 digits
        ("138123456789", None),  # 12 digits
        ("12012345678", "mobile_unknown_segment"),  # no 12x segment exists
        ("14012345678", "mobile_unknown_segment"),  # 140: a handful of stray table entries
        ("16012345678", "mobile_unknown_segment"),
        ("23812345678", None),  # not 1..., not mobile-shaped
        ("138-1234-567a", None),
    ],
)
def test_near_misses_are_not_mobiles_and_untrue_ones_say_why(cell: str, why: str | None) -> None:
    assert MOBILE.normalise(cell) is None
    assert run_expr(MOBILE, [cell]) == [None]
    assert MOBILE.rejection(cell) == why
    assert run_rejection(MOBILE, [cell]) == [why]


def test_a_virtual_number_of_this_carrier_is_not_a_mobile() -> None:
    assert MOBILE.normalise("17012345678") is None
    assert MOBILE.rejection("17012345678") is None  # another role, not an untrue record
    other = MobileRecogniser(vnum_prefixes=["1709"])
    assert other.normalise("17012345678") == "17012345678"
    assert other.normalise("17091234567") is None


def test_find_locates_numbers_in_a_merged_cell_with_offsets_and_reasons() -> None:
    text = "张三 +86 138-1234-5678 湖北省荆州市沙市区 电话:13912345678"
    found = MOBILE.find(text)
    assert [f.normalised for f in found] == ["13812345678", "13912345678"]
    assert text[found[0].start : found[0].end] == "+86 138-1234-5678"
    assert found[0].reason == "mobile_prefix"
    # A context word just before the number raises the score (Presidio's enhancement).
    assert found[1].reason == "mobile_prefix+context"
    assert found[1].score > found[0].score
    assert "13812345678" not in repr(found[0])


@pytest.mark.parametrize(
    "text",
    [
        "SF13812345678901",  # a waybill with a phone-shaped run
        "JDVA13812345678",
        "PG013812345678",
        "6222021381234567890",  # inside a bank-card-length number
        "213812345678",
        "1381234567",
    ],
)
def test_phone_shaped_runs_inside_longer_tokens_are_not_found(text: str) -> None:
    assert MOBILE.find(text) == []
    assert run_extract(MOBILE, [text]) == [None]


def test_context_score_names_the_role_from_headers() -> None:
    assert MOBILE.context_score("手机") == 1.0
    assert MOBILE.context_score("收件人手机号码：") == 0.8
    assert MOBILE.context_score("Mobile No.") == 0.8
    assert MOBILE.context_score("地址") == 0.0
    assert MOBILE.context_score(None) == 0.0


@settings(max_examples=60, deadline=None)
@given(st.lists(spelled_mobile(REAL), min_size=1, max_size=40))
def test_generated_spellings_agree_with_the_vault_normalisation(
    pairs: list[tuple[str, str]],
) -> None:
    cells = [spelling for _, spelling in pairs]
    expected = [number for number, _ in pairs]
    assert [normalise_cn_mobile(c) for c in cells] == expected
    assert [MOBILE.normalise(c) for c in cells] == expected
    assert run_expr(MOBILE, cells) == expected
    texts = [f"收件人 王五，{c}；地址见后" for c in cells]
    assert [first_found(MOBILE, t) for t in texts] == expected
    assert run_extract(MOBILE, texts) == expected


NOISY = st.text(
    alphabet=st.sampled_from(list("0123456789136789+-. ()（）０１３８\u3000\x1c\t①a张")),
    max_size=20,
)


@settings(max_examples=80, deadline=None)
@given(st.lists(NOISY, min_size=1, max_size=40))
def test_python_and_polars_paths_agree_on_arbitrary_text(cells: list[str]) -> None:
    assert run_expr(MOBILE, cells) == [MOBILE.normalise(c) for c in cells]
    assert run_rejection(MOBILE, cells) == [MOBILE.rejection(c) for c in cells]
    assert run_extract(MOBILE, cells) == [first_found(MOBILE, c) for c in cells]
    for cell, value in zip(cells, (MOBILE.normalise(c) for c in cells), strict=True):
        if value is not None:
            assert value == normalise_cn_mobile(cell)
        else:
            try:
                number = normalise_cn_mobile(cell)
            except InvalidPhone:
                continue
            assert number[:3] not in REAL


def test_nulls_stay_null() -> None:
    assert run_expr(MOBILE, [None]) == [None]
    assert run_extract(MOBILE, [None]) == [None]
    assert run_rejection(MOBILE, [None]) == [None]


def test_a_listed_prefix_in_a_stray_segment_is_real_and_an_unlisted_one_untrue() -> None:
    """Art. 11 excludes only records proven untrue: an issued prefix is not proven so."""
    from parcelguard.forensics.recognisers.mobile import real_segments, stray_prefixes

    listed = min(stray_prefixes())
    assert listed[:3] not in real_segments()
    unlisted = next(
        f"{listed[:3]}{n:04d}"
        for n in range(10_000)
        if f"{listed[:3]}{n:04d}" not in stray_prefixes()
    )
    r = MobileRecogniser()
    for number, real in ((f"{listed}1234", True), (f"{unlisted}1234", False)):
        assert (r.normalise(number) == number) is real
        assert (r.rejection(number) is None) is real
        series = pl.Series("c", [number])
        assert (r.normalise_batch(series)[0] == number) is real
        assert (r.rejection_batch(series)[0] is None) is real
