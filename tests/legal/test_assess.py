"""Every decidable clause of Art. 5 and 6 at its boundary: one below, exactly at."""

from __future__ import annotations

from decimal import Decimal

import pytest

from parcelguard.legal import Category, Count, LegalCase, Severity, assess

NONE, SERIOUS, ESPECIALLY = Severity.NONE, Severity.SERIOUS, Severity.ESPECIALLY_SERIOUS
ITEM_3 = ["trace", "communication_content", "credit", "property"]
ITEM_4 = ["accommodation", "communication_records", "health", "transaction", "other_sensitive"]


def case(records: dict[str, int] | None = None, **facts: object) -> LegalCase:
    return LegalCase.from_json_obj({"records": records or {}, **facts})


def ids(c: LegalCase) -> set[str]:
    result = assess(c)
    return {r.clause_id for r in result.reasons} | {x for r in result.reasons for x in r.cites}


@pytest.mark.parametrize("category", ITEM_3)
@pytest.mark.parametrize(
    ("count", "severity"), [(49, NONE), (50, SERIOUS), (499, SERIOUS), (500, ESPECIALLY)]
)
def test_item_3_information_is_serious_at_50_and_especially_serious_at_500(
    category: str, count: int, severity: Severity
) -> None:
    result = assess(case({category: count}))
    assert result.severity is severity
    if severity is SERIOUS:
        assert [r.clause_id for r in result.reasons] == ["art5.1.3"]
    if severity is ESPECIALLY:
        assert [r.clause_id for r in result.reasons] == ["art5.1.3", "art5.2.3"]


@pytest.mark.parametrize("category", ITEM_4)
@pytest.mark.parametrize(
    ("count", "severity"), [(499, NONE), (500, SERIOUS), (4_999, SERIOUS), (5_000, ESPECIALLY)]
)
def test_item_4_information_is_serious_at_500_and_especially_serious_at_5000(
    category: str, count: int, severity: Severity
) -> None:
    result = assess(case({category: count}))
    assert result.severity is severity
    if severity is not NONE:
        assert result.reasons[0].clause_id == "art5.1.4"


@pytest.mark.parametrize(
    ("count", "severity"),
    [(4_999, NONE), (5_000, SERIOUS), (49_999, SERIOUS), (50_000, ESPECIALLY)],
)
def test_general_information_is_serious_at_5000_and_especially_serious_at_50000(
    count: int, severity: Severity
) -> None:
    result = assess(case({"general": count}))
    assert result.severity is severity
    if severity is not NONE:
        assert result.reasons[0].clause_id == "art5.1.5"


def test_the_categories_of_one_item_share_its_standard() -> None:
    result = assess(case({"trace": 30, "property": 20}))
    assert result.severity is SERIOUS
    assert [r.clause_id for r in result.reasons] == ["art5.1.3"]
    assert "50" in result.reasons[0].en


@pytest.mark.parametrize(
    ("category", "below", "at", "ten_times_below", "ten_times"),
    [
        ("trace", 24, 25, 249, 250),
        ("health", 249, 250, 2_499, 2_500),
        ("general", 2_499, 2_500, 24_999, 25_000),
    ],
)
def test_information_obtained_in_duties_meets_half_the_standards(
    category: str, below: int, at: int, ten_times_below: int, ten_times: int
) -> None:
    def severity(count: int) -> Severity:
        return assess(case({category: count}, obtained_in_duties=True)).severity

    assert severity(below) is NONE
    assert severity(at) is SERIOUS
    assert severity(ten_times_below) is SERIOUS
    assert severity(ten_times) is ESPECIALLY
    reason = assess(case({category: at}, obtained_in_duties=True)).reasons[0]
    assert reason.clause_id == "art5.1.8"
    assert reason.cites[0].startswith("art5.1.")
    top = assess(case({category: ten_times}, obtained_in_duties=True)).reasons[-1]
    assert (top.clause_id, top.cites[0]) == ("art5.2.3", "art5.1.8")


def test_the_halved_thresholds_are_shown_in_the_arithmetic() -> None:
    line = assess(case({"general": 2_500}, obtained_in_duties=True)).arithmetic.lines[0]
    assert (line.serious_threshold, line.especially_threshold) == (2_500, 25_000)
    assert line.serious_share == 1
    plain = assess(case({"general": 2_500})).arithmetic.lines[0]
    assert (plain.serious_threshold, plain.especially_threshold) == (5_000, 50_000)


@pytest.mark.parametrize(
    ("gains", "severity"),
    [
        ("4999.99", NONE),
        ("5000", SERIOUS),
        ("49999", SERIOUS),
        ("50000", ESPECIALLY),
    ],
)
def test_illegal_gains_are_serious_at_5000_yuan_and_especially_serious_at_50000(
    gains: str, severity: Severity
) -> None:
    result = assess(case(illegal_gains_yuan=Decimal(gains)))
    assert result.severity is severity
    if severity is not NONE:
        assert result.reasons[0].clause_id == "art5.1.7"


@pytest.mark.parametrize(
    ("gains", "severity"),
    [(2_499, NONE), (2_500, SERIOUS), (24_999, SERIOUS), (25_000, ESPECIALLY)],
)
def test_gains_from_information_obtained_in_duties_meet_half_the_amounts(
    gains: int, severity: Severity
) -> None:
    result = assess(case(illegal_gains_yuan=gains, obtained_in_duties=True))
    assert result.severity is severity


def test_gains_and_counts_are_not_added_together() -> None:
    # Item 6 adds quantities only; gains have their own standard (item 7).
    result = assess(case({"general": 4_000}, illegal_gains_yuan=4_000))
    assert result.severity is NONE


def test_shares_below_one_in_total_are_not_serious() -> None:
    # 24/50 + 250/500 + 0 = 49/50
    result = assess(case({"trace": 24, "accommodation": 250}))
    assert result.severity is NONE
    assert result.arithmetic.serious_sum == pytest.approx(0.98)
    assert str(result.arithmetic.serious_sum) == "49/50"


def test_shares_adding_up_to_one_are_serious_under_item_6() -> None:
    # 20/50 + 200/500 + 1000/5000 = 2/5 + 2/5 + 1/5 = 1
    result = assess(case({"trace": 20, "accommodation": 200, "general": 1_000}))
    assert result.severity is SERIOUS
    assert [r.clause_id for r in result.reasons] == ["art5.1.6"]
    assert result.arithmetic.serious_sum == 1
    assert any(n.clause_id == "art5.1.6" for n in result.notes)


def test_one_record_short_of_a_combined_one_is_not_serious() -> None:
    result = assess(case({"trace": 20, "accommodation": 200, "general": 999}))
    assert result.severity is NONE


def test_item_6_is_not_cited_when_an_item_is_reached_alone() -> None:
    assert "art5.1.6" not in ids(case({"trace": 50, "general": 4_000}))


def test_combined_shares_of_ten_times_the_standards_are_especially_serious() -> None:
    # 200/500 + 2000/5000 + 10000/50000 = 1; none reaches ten times alone
    at = case({"trace": 200, "health": 2_000, "general": 10_000})
    result = assess(at)
    assert result.severity is ESPECIALLY
    assert result.reasons[-1].clause_id == "art5.2.3"
    assert result.reasons[-1].cites == ("art5.1.6",)
    assert assess(case({"trace": 200, "health": 2_000, "general": 9_999})).severity is SERIOUS


def test_combination_with_halved_standards_for_duties() -> None:
    # 10/25 + 100/250 + 500/2500 = 1
    result = assess(case({"trace": 10, "health": 100, "general": 500}, obtained_in_duties=True))
    assert result.severity is SERIOUS
    assert (result.reasons[0].clause_id, result.reasons[0].cites) == ("art5.1.8", ("art5.1.6",))
    below = case({"trace": 10, "health": 100, "general": 499}, obtained_in_duties=True)
    assert assess(below).severity is NONE


@pytest.mark.parametrize(
    ("fact", "clause", "severity"),
    [
        ("used_for_crime", "art5.1.1", SERIOUS),
        ("knew_buyer_criminal", "art5.1.2", SERIOUS),
        ("prior_conviction_or_recent_penalty", "art5.1.9", SERIOUS),
        ("severe_consequences", "art5.2.1", ESPECIALLY),
        ("major_loss_or_bad_influence", "art5.2.2", ESPECIALLY),
    ],
)
def test_each_fact_applies_its_clause_whatever_the_count(
    fact: str, clause: str, severity: Severity
) -> None:
    result = assess(case({"trace": 1}, **{fact: True}))
    assert result.severity is severity
    assert [r.clause_id for r in result.reasons] == [clause]
    assert assess(case({"trace": 1}, **{fact: False})).severity is NONE


def test_used_for_crime_without_trace_records_gets_a_note_to_check() -> None:
    notes = assess(case({"general": 3}, used_for_crime=True)).notes
    assert any(n.clause_id == "art5.1.1" for n in notes)
    notes = assess(case({"trace": 3}, used_for_crime=True)).notes
    assert not any(n.clause_id == "art5.1.1" for n in notes)


def test_the_highest_severity_wins_and_every_reason_is_kept() -> None:
    result = assess(case({"general": 6_000}, severe_consequences=True, illegal_gains_yuan=6_000))
    assert result.severity is ESPECIALLY
    assert {r.clause_id for r in result.reasons} == {"art5.1.5", "art5.1.7", "art5.2.1"}


def test_nothing_decidable_is_none_and_the_catch_alls_are_left_to_the_court() -> None:
    result = assess(case())
    assert result.severity is NONE
    assert result.reasons == ()
    assert any(n.clause_id == "art5.1.10" for n in result.notes)


# Art. 6: buying or receiving general information for lawful business


@pytest.mark.parametrize(
    ("profit", "severity"), [("49999.99", NONE), ("50000", SERIOUS), ("5000000", SERIOUS)]
)
def test_art6_profit_is_serious_from_50000_yuan_and_never_more(
    profit: str, severity: Severity
) -> None:
    result = assess(
        case({"general": 100}, lawful_business_purchase=True, business_profit_yuan=Decimal(profit))
    )
    assert result.severity is severity
    if severity is SERIOUS:
        assert [r.clause_id for r in result.reasons] == ["art6.1.1"]


def test_art6_general_records_are_not_measured_by_quantity() -> None:
    result = assess(case({"general": 60_000}, lawful_business_purchase=True))
    assert result.severity is NONE
    line = result.arithmetic.lines[0]
    assert (line.route, line.serious_threshold, line.serious_share) == ("art6", None, None)
    assert any(n.clause_id == "art6.1" for n in result.notes)


def test_art6_prior_punishment_is_serious() -> None:
    result = assess(
        case(
            {"general": 10}, lawful_business_purchase=True, prior_conviction_or_recent_penalty=True
        )
    )
    assert result.severity is SERIOUS
    assert [r.clause_id for r in result.reasons] == ["art6.1.2"]


def test_art6_leaves_sensitive_information_under_art5() -> None:
    result = assess(case({"health": 500, "general": 9_000}, lawful_business_purchase=True))
    assert result.severity is SERIOUS
    assert [r.clause_id for r in result.reasons] == ["art5.1.4"]
    # the general records do not join the proportional sum either
    assert (
        assess(case({"health": 400, "general": 4_000}, lawful_business_purchase=True)).severity
        is NONE
    )
    assert assess(case({"health": 400, "general": 4_000})).severity is SERIOUS


def test_art6_prior_punishment_with_sensitive_records_cites_both_articles() -> None:
    result = assess(
        case(
            {"health": 1, "general": 1},
            lawful_business_purchase=True,
            prior_conviction_or_recent_penalty=True,
        )
    )
    assert {r.clause_id for r in result.reasons} == {"art5.1.9", "art6.1.2"}


# Art. 11: counting


def test_only_proven_duplicates_and_untrue_records_come_off_the_seized_count() -> None:
    counted = LegalCase(
        records={Category.GENERAL: Count(seized=5_600, proven_duplicate=500, proven_untrue=101)}
    )
    result = assess(counted)
    assert result.arithmetic.lines[0].count.counted == 4_999
    assert result.severity is NONE
    assert any("5,600 seized" in n.en for n in result.notes if n.clause_id == "art11.3")
    at = LegalCase(records={Category.GENERAL: Count(seized=5_600, proven_duplicate=600)})
    assert assess(at).severity is SERIOUS


def test_the_counting_rules_of_art11_are_always_stated() -> None:
    notes = {n.clause_id for n in assess(case({"general": 1})).notes}
    assert {"art11.1", "art11.2", "art11.3"} <= notes


def test_clauses_carry_the_official_chinese_and_an_english_reading() -> None:
    result = assess(case({"general": 5_000}, obtained_in_duties=True))
    texts = {c.id: c for c in result.clauses}
    assert "五千条以上" in texts["art5.1.5"].zh
    assert "一半以上" in texts["art5.1.8"].zh
    assert "half" in texts["art5.1.8"].en
