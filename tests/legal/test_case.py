"""A case file is read strictly: every unknown key or bad value is an error naming it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from parcelguard.core.errors import BadInput
from parcelguard.legal import Category, Count, LegalCase


def bad(obj: object) -> str:
    with pytest.raises(BadInput) as caught:
        LegalCase.from_json_obj(obj, where="case.json")
    assert caught.value.exit_code == 2
    return caught.value.message


def test_a_full_case_reads_every_fact() -> None:
    case = LegalCase.from_json_obj(
        {
            "records": {"trace": 3, "general": {"seized": 10, "proven_duplicate": 2}},
            "illegal_gains_yuan": Decimal("12.50"),
            "obtained_in_duties": True,
            "prior_conviction_or_recent_penalty": True,
            "used_for_crime": True,
            "knew_buyer_criminal": True,
            "severe_consequences": True,
            "major_loss_or_bad_influence": True,
        }
    )
    assert case.count(Category.TRACE) == 3
    assert case.records[Category.GENERAL] == Count(seized=10, proven_duplicate=2)
    assert case.count(Category.GENERAL) == 8
    assert case.illegal_gains_yuan == Decimal("12.50")
    assert case.as_dict()["illegal_gains_yuan"] == "12.50"


def test_not_an_object() -> None:
    assert "case.json: not a JSON object" in bad([1, 2])


def test_records_are_required() -> None:
    assert "records is missing" in bad({"illegal_gains_yuan": 1})


def test_unknown_facts_and_categories_are_named_together() -> None:
    message = bad({"records": {"gneral": 1, "phone": 2}, "obtained_in_duty": True})
    assert "unknown fact obtained_in_duty" in message
    assert "unknown categories gneral, phone" in message


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (-1, "-1 is negative"),
        (1.5, "1.5 is not a whole number"),
        (Decimal("2.5"), "2.5 is not a whole number"),
        (True, "not a boolean"),
        ("12", "not a string"),
        (None, "not null"),
        ([3], "not a list"),
    ],
)
def test_counts_must_be_whole_non_negative_numbers(value: object, problem: str) -> None:
    message = bad({"records": {"health": value}})
    assert message.startswith("case.json: records.health: ")
    assert problem in message


def test_a_whole_number_written_with_a_decimal_point_is_accepted() -> None:
    assert (
        LegalCase.from_json_obj({"records": {"health": Decimal("500.0")}}).count(Category.HEALTH)
        == 500
    )


def test_art11_counts_are_checked() -> None:
    assert "seized is missing" in bad({"records": {"general": {"proven_duplicate": 1}}})
    assert "unknown key dupes" in bad({"records": {"general": {"seized": 1, "dupes": 1}}})
    assert "3 records excluded but only 2 seized" in bad(
        {"records": {"general": {"seized": 2, "proven_duplicate": 2, "proven_untrue": 1}}}
    )
    assert "records.general.proven_untrue: -1 is negative" in bad(
        {"records": {"general": {"seized": 2, "proven_untrue": -1}}}
    )


@pytest.mark.parametrize("fact", ["obtained_in_duties", "severe_consequences"])
def test_facts_must_be_booleans(fact: str) -> None:
    assert f"{fact} must be true or false, not a number" in bad({"records": {}, fact: 1})


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (-5, "negative"),
        (True, "not a boolean"),
        ("5000", "not a string"),
        (Decimal("NaN"), "finite"),
    ],
)
def test_amounts_must_be_non_negative_numbers(value: object, problem: str) -> None:
    assert problem in bad({"records": {}, "illegal_gains_yuan": value})


def test_business_profit_needs_lawful_business_purchase() -> None:
    assert "needs lawful_business_purchase true" in bad(
        {"records": {}, "business_profit_yuan": 60_000}
    )


@pytest.mark.parametrize(
    "fact",
    [
        {"obtained_in_duties": True},
        {"used_for_crime": True},
        {"knew_buyer_criminal": True},
        {"severe_consequences": True},
        {"major_loss_or_bad_influence": True},
        {"illegal_gains_yuan": 1},
    ],
)
def test_lawful_business_purchase_refuses_facts_of_selling_or_providing(
    fact: dict[str, object],
) -> None:
    name = next(iter(fact))
    message = bad({"records": {}, "lawful_business_purchase": True, **fact})
    assert f"cannot stand with {name}" in message
    assert "Art. 6 para. 2" in message


def test_zero_gains_stand_with_lawful_business_purchase() -> None:
    case = LegalCase.from_json_obj(
        {"records": {}, "lawful_business_purchase": True, "illegal_gains_yuan": 0}
    )
    assert case.lawful_business_purchase


def test_the_python_constructor_keeps_the_same_rules() -> None:
    with pytest.raises(BadInput, match="needs lawful_business_purchase"):
        LegalCase(business_profit_yuan=Decimal(1))
    with pytest.raises(TypeError):
        LegalCase(records={"general": Count(1)})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="more records excluded"):
        Count(seized=1, proven_duplicate=2)
