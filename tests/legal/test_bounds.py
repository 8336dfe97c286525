"""Numbers no case can have are refused by name, quickly, without exhausting memory."""

from __future__ import annotations

import pytest

from parcelguard.core.errors import BadInput
from parcelguard.legal import LegalCase
from parcelguard.legal.case import MAX_RECORDS


@pytest.mark.parametrize(
    ("case", "problem"),
    [
        ({"records": {"general": MAX_RECORDS + 1}}, "more than 10\\^12"),
        ({"records": {"general": 10**400}}, "more than 10\\^12"),
        ({"records": {}, "illegal_gains_yuan": 10**40}, "more than 10\\^13"),
        ({"records": {}, "illegal_gains_yuan": 0.001}, "smaller than a fen"),
    ],
)
def test_absurd_numbers_are_refused(case: dict[str, object], problem: str) -> None:
    with pytest.raises(BadInput, match=problem):
        LegalCase.from_json_obj(case)


def test_the_largest_counts_and_amounts_still_assess() -> None:
    case = LegalCase.from_json_obj(
        {"records": {"general": MAX_RECORDS}, "illegal_gains_yuan": 12.34}
    )
    assert case.records
