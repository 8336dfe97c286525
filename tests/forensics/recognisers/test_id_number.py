"""Resident ID numbers: GB 11643 check character, province and birth date all checked."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parcelguard.forensics.recognisers import IdNumberRecogniser
from parcelguard.forensics.recognisers.id_number import check_char
from tests.forensics.recognisers import (
    first_found,
    run_expr,
    run_extract,
    run_rejection,
    synthetic_id,
)

IDS = IdNumberRecogniser()
# The worked example of GB 11643-1999 (appendix): 11010519491231002 → check character X.
EXAMPLE = "11010519491231002X"


def test_the_standards_worked_example_has_check_character_x() -> None:
    assert check_char(EXAMPLE[:17]) == "X"
    assert IDS.normalise(EXAMPLE) == EXAMPLE
    assert IDS.normalise(EXAMPLE.lower()) == EXAMPLE  # lower-case x is accepted
    assert IDS.normalise(" 11010519491231002x\t") == EXAMPLE
    assert IDS.normalise("１１０１０５１９４９１２３１００２Ｘ") == EXAMPLE
    assert run_expr(IDS, [EXAMPLE, EXAMPLE.lower()]) == [EXAMPLE, EXAMPLE]


@pytest.mark.parametrize(
    ("cell", "why"),
    [
        ("110105194912310021", "id_bad_check_digit"),
        ("990105194912310029", "id_unknown_province"),
        ("110105194902300027", "id_invalid_birth_date"),  # 30 February
        ("110105189912310021", "id_invalid_birth_date"),  # born before 1900
        ("11010519491231002", None),  # 17 characters: not shaped
        ("11010519491231002X1", None),
        ("1101051949123100XX", None),
    ],
)
def test_invalid_ids_are_rejected_with_the_failing_check(cell: str, why: str | None) -> None:
    assert IDS.normalise(cell) is None
    assert run_expr(IDS, [cell]) == [None]
    assert IDS.rejection(cell) == why
    assert run_rejection(IDS, [cell]) == [why]


def test_births_can_be_bounded_by_the_files_date() -> None:
    bounded = IdNumberRecogniser(latest_birth=date(1949, 12, 30))
    assert bounded.normalise(EXAMPLE) is None
    assert bounded.rejection(EXAMPLE) == "id_invalid_birth_date"
    assert run_rejection(bounded, [EXAMPLE]) == ["id_invalid_birth_date"]


def test_find_in_free_text_and_not_inside_longer_numbers() -> None:
    text = f"李四 身份证:{EXAMPLE.lower()} 13812345678"
    [found] = IDS.find(text)
    assert (found.normalised, found.reason) == (EXAMPLE, "gb11643_checksum+context")
    assert text[found.start : found.end] == EXAMPLE.lower()
    assert IDS.find("9" + EXAMPLE) == []
    assert IDS.find(EXAMPLE[:-1] + "00") == []
    assert run_extract(IDS, [text, "9" + EXAMPLE, None]) == [EXAMPLE, None, None]


def test_context_score() -> None:
    assert IDS.context_score("身份证号") == 1.0
    assert IDS.context_score("收件人身份证号码") == 0.8
    assert IDS.context_score("ID No.") == 1.0
    assert IDS.context_score("Passenger ID") == 0.8
    assert IDS.context_score("paid") == 0.0
    assert IDS.context_score("姓名") == 0.0


@settings(max_examples=60, deadline=None)
@given(st.lists(synthetic_id(), min_size=1, max_size=40))
def test_generated_ids_are_valid_on_both_paths(ids: list[str]) -> None:
    assert [IDS.normalise(i) for i in ids] == ids
    assert run_expr(IDS, ids) == ids
    assert run_rejection(IDS, ids) == [None] * len(ids)
    texts = [f"张三 {i.lower()} 湖北省" for i in ids]
    assert [first_found(IDS, t) for t in texts] == ids
    assert run_extract(IDS, texts) == ids


@settings(max_examples=60, deadline=None)
@given(st.lists(synthetic_id(), min_size=1, max_size=40), st.data())
def test_any_single_changed_character_is_caught(ids: list[str], data: st.DataObject) -> None:
    changed = []
    for number in ids:
        at = data.draw(st.integers(0, 17))
        new = data.draw(st.sampled_from([c for c in "0123456789X" if c != number[at]]))
        changed.append(number[:at] + new + number[at + 1 :])
    # ISO 7064 MOD 11-2 detects every single substitution.
    assert [IDS.normalise(c) for c in changed] == [None] * len(changed)
    assert run_expr(IDS, changed) == [None] * len(changed)
    assert run_rejection(IDS, changed) == [IDS.rejection(c) for c in changed]


NOISY = st.text(alphabet=st.sampled_from(list("0123456789xX \t\u3000１")), max_size=20)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(NOISY, synthetic_id()), min_size=1, max_size=40))
def test_python_and_polars_paths_agree(cells: list[str]) -> None:
    assert run_expr(IDS, cells) == [IDS.normalise(c) for c in cells]
    assert run_rejection(IDS, cells) == [IDS.rejection(c) for c in cells]
    assert run_extract(IDS, cells) == [first_found(IDS, c) for c in cells]
