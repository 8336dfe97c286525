"""The default category of a leaked waybill record is documented and usable as a category."""

from __future__ import annotations

from parcelguard.legal import (
    DEFAULT_WAYBILL_CATEGORY,
    DEFAULT_WAYBILL_CATEGORY_REASON,
    Category,
    LegalCase,
    assess,
)


def test_a_waybill_record_counts_as_general_information_by_default() -> None:
    assert DEFAULT_WAYBILL_CATEGORY is Category.GENERAL
    assert set(DEFAULT_WAYBILL_CATEGORY_REASON) == {"en", "zh"}
    assert "item 5" in DEFAULT_WAYBILL_CATEGORY_REASON["en"]
    assert "第五项" in DEFAULT_WAYBILL_CATEGORY_REASON["zh"]


def test_the_jingzhou_clerks_4000_waybills_are_serious_by_default_and_more_if_recategorised() -> (
    None
):
    # 4,000 records looked up on the job: half of 5,000 is reached (serious); counted as
    # transaction information instead, ten times half of 500 is reached (especially serious).
    def severity(category: Category) -> str:
        case = LegalCase.from_json_obj(
            {"records": {category.value: 4_000}, "obtained_in_duties": True}
        )
        return assess(case).severity.value

    assert severity(DEFAULT_WAYBILL_CATEGORY) == "serious"
    assert severity(Category.TRANSACTION) == "especially_serious"
