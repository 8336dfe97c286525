"""Addresses: every common way of writing a district's path gives its adcode."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parcelguard.forensics.recognisers import AddressRecogniser
from parcelguard.forensics.recognisers.address import address_paths, short_name
from tests.forensics.recognisers import first_found, run_expr, run_extract

ADDRESS = AddressRecogniser()
# The automaton path, which batches with many distinct cells take.
AUTOMATON = AddressRecogniser(scan_limit=0)
SHASHI = "421002"  # 湖北省荆州市沙市区


@pytest.mark.parametrize(
    "cell",
    [
        "湖北省荆州市沙市区解放路12号3栋501",
        "湖北荆州沙市区解放路",
        "湖北省 荆州市 沙市区 解放路",
        "荆州市沙市区解放路",  # no province: the city first
        "荆州沙市解放路",  # abbreviated city and district
        "中国湖北省荆州市沙市区",
    ],
)
def test_spellings_of_one_district(cell: str) -> None:
    assert ADDRESS.normalise(cell) == SHASHI
    assert run_expr(ADDRESS, [cell]) == [SHASHI]
    assert run_expr(AUTOMATON, [cell]) == [SHASHI]


@pytest.mark.parametrize(
    ("cell", "adcode"),
    [
        ("北京市朝阳区建国路88号", "110105"),
        ("北京朝阳区建国路", "110105"),
        ("北京 北京市 朝阳区", "110105"),  # province, city and district fields of an export
        ("北京市市辖区朝阳区", "110105"),
        ("吉林省长春市朝阳区", "220104"),
        ("吉林省吉林市船营区", "220204"),
        ("广东省东莞市南城街道", "441900"),  # a city that is its own district
        ("湖北省仙桃市", "429004"),  # a county-level city governed by the province
        ("恩施州恩施市", "422801"),  # autonomous prefectures go by 恩施州
        ("湖北恩施恩施市", "422801"),
        ("上海浦东新区", "310115"),
    ],
)
def test_district_names_resolve_with_their_context(cell: str, adcode: str | None) -> None:
    assert ADDRESS.normalise(cell) == adcode
    assert run_expr(AUTOMATON, [cell]) == [adcode]


@pytest.mark.parametrize(
    "cell",
    [
        "朝阳区建国路",  # Beijing or Changchun: ambiguous without a city
        "湖北省荆州市",  # no district
        "湖北省荆州",  # the city 荆州市 or the district 荆州区
        "河北省桥西区",  # 桥西区 of 石家庄, of 邢台 or of 张家口
        "解放路12号",
        "张三",
        "13812345678",
    ],
)
def test_ambiguous_or_district_less_text_has_no_adcode(cell: str) -> None:
    assert ADDRESS.normalise(cell) is None
    assert run_expr(AUTOMATON, [cell]) == [None]


def test_every_path_names_one_real_district() -> None:
    paths = address_paths()
    assert paths["湖北省荆州市沙市区"] == SHASHI
    assert "朝阳区" not in paths
    codes = {code for code in paths.values() if code is not None}
    assert all(len(code) == 6 and code.isdigit() for code in codes)
    assert len(codes) > 2_800  # nearly every one of the 2,855 districts is reachable


def test_short_names() -> None:
    assert short_name("湖北省", "province") == "湖北"
    assert short_name("广西壮族自治区", "province") == "广西"
    assert short_name("恩施土家族苗族自治州", "city") == "恩施"
    assert short_name("长阳土家族自治县", "district") == "长阳"
    assert short_name("城区", "district") is None


def test_find_in_a_merged_cell() -> None:
    text = "张三 13812345678 收件地址：湖北省荆州市沙市区解放路12号"
    [found] = ADDRESS.find(text)
    assert found.normalised == SHASHI
    assert text[found.start : found.end] == "湖北省荆州市沙市区"
    assert found.reason == "district_path+context"
    # A district-less path earlier in the text does not hide a later district.
    assert first_found(ADDRESS, "湖北省荆州市 北京朝阳区") == "110105"
    assert run_extract(AUTOMATON, [text, "湖北省荆州市 北京朝阳区", None]) == [
        SHASHI,
        "110105",
        None,
    ]


PIECES = [
    "湖北省",
    "湖北",
    "荆州市",
    "荆州",
    "沙市区",
    "沙市",
    "北京",
    "朝阳区",
    "长春",
    "解放路",
    " ",
    "1",
]


@settings(max_examples=5, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(PIECES), max_size=5).map("".join), min_size=1, max_size=60)
)
def test_the_automaton_agrees_with_the_python_scan(cells: list[str]) -> None:
    assert run_expr(AUTOMATON, cells) == [ADDRESS.normalise(c) for c in cells]
    assert run_expr(ADDRESS, cells) == [ADDRESS.normalise(c) for c in cells]
    assert run_extract(AUTOMATON, cells) == [first_found(ADDRESS, c) for c in cells]


def test_remembered_addresses_give_the_same_districts_and_memory_is_bounded() -> None:
    import polars as pl

    cells = ["湖北省荆州市沙市区解放路12号", "朝阳区建国路", None, "北京朝阳区建国路", "解放路"]
    expected = [ADDRESS.normalise(c) if c is not None else None for c in cells]
    remembering = AddressRecogniser(memory=3)
    forgetting = AddressRecogniser(memory=0)
    for _ in range(2):  # the second batch is answered from memory
        assert run_expr(remembering, cells) == expected
        assert run_expr(forgetting, cells) == expected
    # Four distinct cells would exceed a memory of three: none of that batch is kept.
    assert remembering._known.height == 0
    small = AddressRecogniser(memory=2)
    assert run_expr(small, cells[:2]) == expected[:2]
    assert small._known.height == 2
    assert run_expr(small, ["湖北荆州沙市区", *cells[:2]]) == [SHASHI, *expected[:2]]
    assert small._known.height == 2  # full: the new cell is answered, not remembered
    assert small.normalise_batch(pl.Series([], dtype=pl.String)).to_list() == []
