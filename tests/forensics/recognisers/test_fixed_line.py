"""Fixed lines: area code plus local number, canonical 0716-8234567."""

from __future__ import annotations

import pytest

from parcelguard.forensics.recognisers import FixedLineRecogniser, MobileRecogniser
from tests.forensics.recognisers import run_expr, run_extract

FIXED = FixedLineRecogniser()


@pytest.mark.parametrize(
    ("cell", "canonical"),
    [
        ("0716-8234567", "0716-8234567"),
        ("07168234567", "0716-8234567"),
        ("(0716)8234567", "0716-8234567"),
        ("（０７１６）８２３４５６７", "0716-8234567"),
        ("010-82345678", "010-82345678"),
        ("(010) 8234 5678", "010-82345678"),
        ("021 5234 5678 转 801", "021-52345678-801"),
        ("0755-82345678 ext. 12", "0755-82345678-12"),
    ],
)
def test_spellings(cell: str, canonical: str) -> None:
    assert FIXED.normalise(cell) == canonical
    assert run_expr(FIXED, [cell]) == [canonical]


@pytest.mark.parametrize(
    "cell",
    [
        "0716-1234567",  # local numbers never start with 1
        "0716-823456",  # 6 digits
        "0716-823456789",  # 9 digits
        "011-82345678",  # no area code 011
        "13812345678",  # a mobile
        "716-8234567",  # no leading 0
    ],
)
def test_near_misses(cell: str) -> None:
    assert FIXED.normalise(cell) is None
    assert run_expr(FIXED, [cell]) == [None]


def test_fixed_lines_and_mobiles_do_not_overlap() -> None:
    mobile = MobileRecogniser()
    for cell in ["0716-8234567", "010-82345678"]:
        assert mobile.normalise(cell) is None
    assert FIXED.normalise("+86 138 1234 5678") is None


def test_find_in_free_text() -> None:
    text = "座机:(0716)823-4567，手机13812345678"
    [found] = FIXED.find(text)
    assert (found.normalised, found.reason) == ("0716-8234567", "area_code+context")
    assert run_extract(FIXED, [text, "SF07168234567"]) == ["0716-8234567", None]
