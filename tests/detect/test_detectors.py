"""The detectors' rules on hand-made frames: what passes a bar, what does not, and why."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from parcelguard.detect.alerts import Finding, Reason, combined, merge, severity
from parcelguard.detect.detectors import (
    CollusionDetector,
    ExplanationDetector,
    HolderEvidence,
    ListLookupDetector,
    SignalsDetector,
)
from parcelguard.detect.feedback import Decision, code_weights, rerank
from parcelguard.detect.frame import SUMMED, Frame, robust_z
from parcelguard.detect.holders import Holdings


def frame(rows: list[dict[str, object]]) -> Frame:
    days = pd.DataFrame(rows)
    for column in SUMMED:
        if column not in days:
            days[column] = 0
    for column, default in (("role", "courier"), ("site_kind", "station"), ("left_day", None),
                            ("day", 17000), ("first_ts", 0), ("last_ts", 0), ("top_sender", 0)):  # fmt: skip
        if column not in days:
            days[column] = default
    days["group"] = days["role"] + "@" + days["site_kind"]
    history = days.groupby("employee_id", as_index=False).agg(
        {**dict.fromkeys(SUMMED, "sum"), "group": "first", "role": "first", "left_day": "first"}
    )
    history["unexplained_waybills"] = history["unexplained"]
    return Frame(days, history, int(days["day"].min()), int(days["day"].max()))


def test_robust_z_has_a_floor_where_peers_all_have_zero() -> None:
    table = pd.DataFrame({"group": ["g"] * 10, "x": [0] * 9 + [2]})
    z, median = robust_z(table, "x", ["group"])
    assert median.tolist() == [0.0] * 10
    assert z.iloc[-1] == pytest.approx(2.0)  # scale sqrt(0 + 1), not MAD 0


def test_one_outlier_does_not_move_the_median_baseline() -> None:
    table = pd.DataFrame({"group": ["g"] * 21, "x": [10] * 10 + [12] * 10 + [5000]})
    z, median = robust_z(table, "x", ["group"])
    assert median.iloc[0] == 12  # a mean would be 250
    assert z.iloc[-1] > 100


def test_unexplained_reveals_above_peers_are_flagged_with_value_and_baseline() -> None:
    rows = [{"employee_id": f"E{i}", "unexplained": i % 2} for i in range(30)]
    rows.append({"employee_id": "EX", "unexplained": 40})
    found = ExplanationDetector().find(frame(rows))
    assert [f.employee_id for f in found] == ["EX"]
    day = next(r for r in found[0].reasons if r.code == "unexplained_reveals")
    assert (day.value, day.baseline, day.window) == (40, 1, "P1D")  # 15 zeros, 16 ones and more


def test_few_unexplained_reveals_stay_under_the_floor() -> None:
    rows = [{"employee_id": f"E{i}", "unexplained": 0} for i in range(30)]
    rows.append({"employee_id": "EX", "unexplained": 4})  # under the floor of 5 a day
    assert ExplanationDetector().find(frame(rows)) == []


def test_a_list_in_number_order_is_named_and_random_order_is_not() -> None:
    rows = [
        {"employee_id": "SORTED", "pairs": 100, "ascending": 97, "unexplained": 101},
        {"employee_id": "RANDOM", "pairs": 100, "ascending": 52, "unexplained": 101},
    ]
    found = ListLookupDetector().find(frame(rows))
    codes = {f.employee_id: {r.code for r in f.reasons} for f in found}
    assert "sheet_order" in codes["SORTED"]
    assert "sheet_order" not in codes.get("RANDOM", set())


def test_a_leaver_harvesting_in_her_notice_period_is_flagged() -> None:
    rows = [{"employee_id": f"E{i}", "reveals": 20 + i % 3, "role": "cs_agent"} for i in range(20)]
    rows.append({"employee_id": "LEAVER", "reveals": 150, "role": "cs_agent", "left_day": 17003})
    rows.append({"employee_id": "BUSY", "reveals": 150, "role": "cs_agent"})  # not leaving
    found = SignalsDetector().find(frame(rows))
    leaving = [f.employee_id for f in found if any(r.code == "departing_volume" for r in f.reasons)]
    assert leaving == ["LEAVER"]


def _holder_evidence(list_of: str, asked: list[str]) -> HolderEvidence:
    held_by = {f"W{c}-{i}": frozenset({f"C{c}"}) for c in range(100) for i in range(50)}
    return HolderEvidence(
        Holdings(held_by, {f"C{c}": 50 for c in range(100)}, 5_000),
        {list_of: frozenset(asked)},
        {(list_of, "C7"): ("A1", "A2")},
    )


def test_collusion_names_both_the_revealer_and_the_harvester() -> None:
    evidence = _holder_evidence("CLERK", [f"W7-{i}" for i in range(40)])
    found = CollusionDetector(evidence).find(frame([{"employee_id": "CLERK"}]))
    by = {f.employee_id: f.reasons[0] for f in found}
    assert set(by) == {"CLERK", "C7"}
    assert by["C7"].code == "holds_revealed_list"
    assert by["CLERK"].code == "revealed_one_holders_parcels"
    assert by["C7"].evidence_ids == ("A1", "A2")
    assert "group C7" in by["CLERK"].detail  # one group, named by its smallest id


def test_lookups_spread_over_holders_link_nobody() -> None:
    evidence = _holder_evidence("AGENT", [f"W{c}-0" for c in range(60)])
    assert CollusionDetector(evidence).find(frame([{"employee_id": "AGENT"}])) == []


def _reason(code: str, s: float) -> Reason:
    return Reason(code, "d", 1, 0, "P1D", s, 17000)


def test_merge_counts_one_code_once_and_orders_by_score() -> None:
    findings = [
        Finding("A", "x", (_reason("c1", 0.6), _reason("c1", 0.6))),
        Finding("B", "x", (_reason("c1", 0.6),)),
        Finding("B", "y", (_reason("c2", 0.6),)),
    ]
    alerts = merge(findings, 5, {"A": (1, 2), "B": (1, 3)}, {}, {})
    assert [a.employee_id for a in alerts] == ["B", "A"]
    assert alerts[1].score == pytest.approx(0.6)
    assert alerts[0].score == pytest.approx(combined([0.6, 0.6]))
    assert severity(1.0) == pytest.approx(0.5)


def test_feedback_demotes_a_dismissed_pattern_and_keeps_confirmed_on_top() -> None:
    findings = [Finding("OFFICER", "x", (_reason("fresh_sensitive_history", 0.9),)),
                Finding("CLERK", "x", (_reason("unexplained_reveals", 0.7),))]  # fmt: skip
    alerts = merge(findings, 5, {}, {}, {})
    assert alerts[0].employee_id == "OFFICER"
    decisions = [
        Decision("a1", "OFFICER", ("fresh_sensitive_history",), "dismiss", ""),
        Decision("a2", "CLERK", ("unexplained_reveals",), "confirm", ""),
    ]
    ranked = rerank(alerts, decisions)
    assert [a.employee_id for a in ranked] == ["CLERK", "OFFICER"]
    assert ranked[0].score >= 0.99
    assert code_weights(decisions) == {"fresh_sensitive_history": 0.5, "unexplained_reveals": 1.5}


def test_pyarrow_is_what_the_pipelines_hand_over() -> None:
    # build_frame accepts Arrow tables (what Engine.arrow returns), with tickets merged in.
    from parcelguard.detect.frame import build_frame

    days = pa.table({"employee_id": ["A"], "day": [1], "role": ["courier"], "site_kind": ["station"],
                     "left_day": pa.array([None], pa.int32()), "reveals": [3]})  # fmt: skip
    tickets = pa.table(
        {"employee_id": ["B"], "day": [1], "tickets": [2], "fresh_sensitive_tickets": [1]}
    )
    totals = pa.table({"employee_id": ["A"], "unexplained_waybills": [0]})
    f = build_frame(days, tickets, totals)
    assert sorted(f.days["employee_id"]) == ["A", "B"]
    assert int(f.history.set_index("employee_id").loc["B", "tickets"]) == 2
