"""Properties the rules must keep for any case: more never lowers, halving never lowers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from parcelguard.legal import Category, Count, LegalCase, Severity, assess

counts = st.dictionaries(
    st.sampled_from(list(Category)), st.integers(min_value=0, max_value=120_000), max_size=6
)
facts = st.fixed_dictionaries(
    {},
    optional={
        "used_for_crime": st.booleans(),
        "knew_buyer_criminal": st.booleans(),
        "prior_conviction_or_recent_penalty": st.booleans(),
        "severe_consequences": st.booleans(),
        "major_loss_or_bad_influence": st.booleans(),
        "illegal_gains_yuan": st.integers(min_value=0, max_value=200_000),
    },
)


def build(records: dict[Category, int], duties: bool, more: dict[str, object]) -> LegalCase:
    obj = {"records": {c.value: n for c, n in records.items()}, **more}
    return LegalCase.from_json_obj({**obj, "obtained_in_duties": duties})


@given(counts, st.booleans(), facts, st.sampled_from(list(Category)), st.integers(1, 60_000))
def test_more_records_never_lower_the_severity(
    records: dict[Category, int],
    duties: bool,
    more: dict[str, object],
    category: Category,
    extra: int,
) -> None:
    before = assess(build(records, duties, more)).severity
    grown = {**records, category: records.get(category, 0) + extra}
    after = assess(build(grown, duties, more)).severity
    assert after.rank >= before.rank


@given(counts, facts)
def test_data_obtained_in_duties_is_never_judged_more_leniently(
    records: dict[Category, int], more: dict[str, object]
) -> None:
    plain = assess(build(records, False, more)).severity
    duties = assess(build(records, True, more)).severity
    assert duties.rank >= plain.rank


@given(counts, st.booleans())
def test_the_severity_follows_from_the_sums_shown(
    records: dict[Category, int], duties: bool
) -> None:
    result = assess(build(records, duties, {}))
    sums = result.arithmetic
    expected = (
        Severity.ESPECIALLY_SERIOUS
        if sums.especially_sum >= 1
        else Severity.SERIOUS
        if sums.serious_sum >= 1
        else Severity.NONE
    )
    assert result.severity is expected
    assert sums.serious_sum == sum(
        (line.serious_share for line in sums.lines if line.serious_share is not None), 0
    )


@given(st.integers(0, 10_000), st.integers(0, 10_000), st.integers(0, 10_000))
def test_excluded_records_are_exactly_the_proven_ones(seized: int, dup: int, untrue: int) -> None:
    if dup + untrue > seized:
        return
    case = LegalCase(records={Category.GENERAL: Count(seized, dup, untrue)})
    assert assess(case).arithmetic.lines[0].count.counted == seized - dup - untrue
