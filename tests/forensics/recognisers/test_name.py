"""Names: known surname, two to four Han characters, titles stripped, places refused."""

from __future__ import annotations

import pytest

from parcelguard.core.names import normalise_name
from parcelguard.forensics.recognisers import IdNumberRecogniser, NameRecogniser
from tests.forensics.recognisers import run_expr, run_extract

NAME = NameRecogniser()


@pytest.mark.parametrize(
    ("cell", "name"),
    [
        ("张三", "张三"),
        ("王 五", "王五"),
        ("李小明", "李小明"),
        ("欧阳修文", "欧阳修文"),
        ("诸葛亮", "诸葛亮"),
        ("张三先生", "张三"),
        ("刘晓红女士", "刘晓红"),
    ],
)
def test_names(cell: str, name: str) -> None:
    assert NAME.normalise(cell) == name == normalise_name(name)
    assert run_expr(NAME, [cell]) == [name]


@pytest.mark.parametrize(
    "cell",
    [
        "张先生",  # a surname and a title is not a full name
        "湖北",  # a province
        "荆州",  # a city
        "黄山",  # a city whose first character is a surname
        "王府井路",  # ends like a road
        "李宁有限公司",
        "张",
        "王小明明明",  # five characters
        "John",
        "13812345678",
    ],
)
def test_not_names(cell: str) -> None:
    assert NAME.normalise(cell) is None
    assert run_expr(NAME, [cell]) == [None]


def test_names_score_below_checksummed_roles() -> None:
    [found] = NAME.find("张三 13812345678")
    assert found.score < IdNumberRecogniser.score
    assert found.reason == "surname"
    assert NAME.find("欧阳修文 北京")[0].reason == "compound_surname"


def test_names_in_a_merged_cell() -> None:
    text = "张三 13812345678 湖北省荆州市沙市区解放路"
    assert [f.normalised for f in NAME.find(text)] == ["张三"]
    assert run_extract(NAME, [text, "湖北省荆州市沙市区"]) == ["张三", None]
