"""Every recogniser: the Polars paths give exactly the Python paths' answers.

Ingest classifies columns on a Python sample and then converts the whole column with
``expr``; if the two disagreed, the sample would promise what the bulk does not deliver.
The text here mixes fragments of every role with noise, so each recogniser sees its own
values, near misses and other roles' values.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parcelguard.forensics.recognisers import ROLES, Recogniser, default_recognisers
from tests.forensics.recognisers import first_found, run_expr, run_extract, run_rejection

RECOGNISERS = default_recognisers()
FRAGMENTS = [
    "13812345678",
    "+86 138-1234-5678",
    "17012345678",
    "11010519491231002X",
    "11010519491231002x",
    "0716-8234567",
    "(010) 82345678 转 12",
    "PG123456789012",
    "sf1234567890123",
    "EA123456789CN",
    "¥1,234.50",
    "12.5元",
    "2016-05-01",
    "2016年5月1日",
    "20160230",
    "张三",
    "欧阳修文女士",
    "王先生",
    "湖北省荆州市沙市区",
    "荆州沙市区",
    "北京朝阳区",
    "湖北省荆州市",
    "有限公司",
]
NOISE = st.text(
    alphabet=st.sampled_from(list("0123456789 -./:()+xX年月日元市区张王\u3000１")), max_size=6
)
CELLS = st.lists(st.one_of(st.sampled_from(FRAGMENTS), NOISE), min_size=1, max_size=3).map("".join)
MERGED = st.lists(st.one_of(st.sampled_from(FRAGMENTS), NOISE), max_size=5).map(" ".join)


def test_there_is_one_recogniser_per_role() -> None:
    assert sorted(r.role for r in RECOGNISERS) == sorted(ROLES)


@pytest.mark.parametrize("recogniser", RECOGNISERS, ids=lambda r: r.role)
@settings(max_examples=25, deadline=None)
@given(
    cells=st.lists(CELLS, min_size=1, max_size=30), texts=st.lists(MERGED, min_size=1, max_size=30)
)
def test_polars_agrees_with_python(
    recogniser: Recogniser, cells: list[str], texts: list[str]
) -> None:
    assert run_expr(recogniser, cells) == [recogniser.normalise(c) for c in cells]
    assert run_rejection(recogniser, cells) == [recogniser.rejection(c) for c in cells]
    assert run_extract(recogniser, texts) == [first_found(recogniser, t) for t in texts]


@pytest.mark.parametrize("recogniser", RECOGNISERS, ids=lambda r: r.role)
def test_found_values_are_canonical_and_offsets_point_at_them(recogniser: Recogniser) -> None:
    text = " / ".join(FRAGMENTS)
    found = recogniser.find(text)
    assert found, f"{recogniser.role} finds nothing in the fragments"
    for item in found:
        assert item.role == recogniser.role
        assert 0 < item.score <= 1
        assert recogniser.normalise(text[item.start : item.end]) == item.normalised
        assert item.normalised not in item.reason


@pytest.mark.parametrize("recogniser", RECOGNISERS, ids=lambda r: r.role)
def test_nulls_and_empty_cells_are_no_value(recogniser: Recogniser) -> None:
    assert run_expr(recogniser, [None, "", "   "]) == [None, None, None]
    assert run_extract(recogniser, [None, ""]) == [None, None]
    assert recogniser.normalise("") is None
    assert recogniser.find("") == []
