"""``parcelguard eval``: detection as it would have run, at the end of each simulated day.

Why day by day: what matters is not whether an insider shows up in a month's hindsight
but how soon, and how many records she had taken by then. So the run at the end of day d
sees only events up to then (``--until``), exactly as ``detect run`` would, and the ground
truth (``labels``) is read only here, to score, never by a detector.

Figures, for the detectors and for each baseline on the same features:

* per labelled account: detected or not, hours from its first malicious access to the
  first alert, and its records (allowed reveals and exports) by then;
* precision at k on the last day's ranking (k = 10, and k = the number of labelled
  accounts);
* false alerts per 10,000 employee-days: days on which an honest account's alert has a
  reason of that day, over the account-days with any activity.

Analyst feedback is measured too: after each day's run a simulated analyst labels the top
few alerts from the ground truth (as a real one would after looking), and later runs are
re-ranked by those decisions; the last day's precision with and without it is reported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from parcelguard.detect.alerts import Alert, iso
from parcelguard.detect.baselines import BASELINES
from parcelguard.detect.detectors import default_detectors
from parcelguard.detect.engine import Engine, EngineName
from parcelguard.detect.features import DAY, LOCAL
from parcelguard.detect.feedback import Decision, Label, rerank
from parcelguard.detect.run import DEFAULT_PATTERN, detect

FEEDBACK_PER_DAY = 5
"""Alerts the simulated analyst looks at after each day's run."""
TOP_K = 10


@dataclass(frozen=True, slots=True)
class Truth:
    employee_id: str
    scenario: str
    started_at: int
    ended_at: int


def truth_from_table(labels: pa.Table) -> list[Truth]:
    from parcelguard.detect.engine import integer_times

    rows = integer_times(labels).to_pylist()
    return [
        Truth(str(r["employee_id"]), str(r["scenario"]), int(r["started_at"]), int(r["ended_at"]))
        for r in rows
    ]


def day_end(day: int) -> int:
    """The last microsecond of the carrier's day ``day``."""
    return (day + 1) * DAY - LOCAL - 1


def _records(accesses: pa.Table, employee: str, since: int, until: int) -> int:
    mask = pc.and_(
        pc.and_(
            pc.equal(accesses["employee_id"], employee),
            pc.is_in(accesses["action"], pa.array(["reveal", "export"])),
        ),
        pc.and_(pc.equal(accesses["decision"], "allow"), pc.is_valid(accesses["field"])),
    )
    ts = accesses["ts"]
    mask = pc.and_(mask, pc.and_(pc.greater_equal(ts, since), pc.less_equal(ts, until)))
    return int(pc.sum(mask.cast(pa.int64())).as_py() or 0)


@dataclass(slots=True)
class _Track:
    """One method's alerts over the days: first alert per account, honest alert-days."""

    first: dict[str, int]
    false_days: int = 0

    def see(
        self, accounts: Sequence[str], today: Sequence[str], until: int, truth: set[str]
    ) -> None:
        for a in accounts:
            self.first.setdefault(a, until)
        self.false_days += sum(1 for a in today if a not in truth)


def evaluate(
    tables: Mapping[str, pa.Table],
    labels: pa.Table,
    engine: EngineName = "duckdb",
    *,
    pattern: str = DEFAULT_PATTERN,
    progress: Any = None,
) -> dict[str, object]:
    """Every figure of the evaluation, as one JSON-ready dict (see the module docstring)."""
    truth = truth_from_table(labels)
    insiders = {t.employee_id for t in truth}
    eng = Engine(engine, tables)
    accesses = tables["accesses"]
    ts = accesses["ts"]
    first_day = (int(pc.min(ts).as_py()) + LOCAL) // DAY
    last_day = (int(pc.max(ts).as_py()) + LOCAL) // DAY
    ours = _Track({})
    with_feedback = _Track({})
    base = {name: _Track({}) for name in BASELINES}
    decisions: list[Decision] = []
    final: list[Alert] = []
    final_fb: list[Alert] = []
    final_frame: Any = None
    employee_days = 0
    for day in range(first_day, last_day + 1):
        until = day_end(day)
        result = detect(eng, until, pattern=pattern)
        alerts = list(result.alerts)
        today = [a.employee_id for a in alerts if a.last_day == day]
        ours.see([a.employee_id for a in alerts], today, until, insiders)
        ranked = rerank(alerts, decisions) if decisions else alerts
        with_feedback.see([a.employee_id for a in ranked], today, until, insiders)
        decisions += _analyst(ranked, insiders, decisions)
        days = result.frame.days
        if len(days):
            for name, method in BASELINES.items():
                scored = method(days)
                hit = scored.alerts
                accounts = sorted(set(days.loc[hit, "employee_id"]))
                today_b = sorted(
                    set(days.loc[hit & (days["day"] == day).to_numpy(), "employee_id"])
                )
                base[name].see(accounts, today_b, until, insiders)
        final, final_fb, final_frame = alerts, ranked, days
        if progress is not None:
            progress(day - first_day + 1, last_day - first_day + 1)
    employee_days = len(final_frame) if final_frame is not None else 0
    k_all = len(insiders)
    ours_ranking = [a.employee_id for a in final]
    report: dict[str, object] = {
        "days": last_day - first_day + 1,
        "first_day": iso(day_end(first_day - 1) + 1)[:10],
        "employee_days": employee_days,
        "labelled_accounts": k_all,
        "k": TOP_K,
        "feedback_per_day": FEEDBACK_PER_DAY,
        "accounts": _per_account(truth, ours, accesses),
        "detectors": _summary(ours, ours_ranking, truth, employee_days),
        "detectors_with_feedback": _summary(
            with_feedback, [a.employee_id for a in final_fb], truth, employee_days
        ),
        "baselines": {
            name: {
                **_summary(track, _baseline_ranking(name, final_frame), truth, employee_days),
                "accounts": _per_account(truth, track, accesses),
            }
            for name, track in base.items()
        },
        "case": _case(truth, ours, tables),
        "per_detector": _per_detector(eng, day_end(last_day), pattern, insiders, final_frame),
    }
    return report


def _per_detector(
    eng: Engine, until: int, pattern: str, insiders: set[str], days: Any
) -> dict[str, dict[str, object]]:
    """Each detector alone: the precision of its n alerts, and each baseline's at the same n.

    Why at its own n: a detector of one pattern (collusion names two accounts a case) cannot
    fill a top 10, and precision at 10 would punish it for being specific.
    """
    rankings = {name: _baseline_ranking(name, days) for name in BASELINES}
    out: dict[str, dict[str, object]] = {}
    for d in default_detectors(None):
        ranking = [a.employee_id for a in detect(eng, until, pattern=pattern, only=d.name).alerts]
        n = len(ranking)
        out[d.name] = {
            "alerts": n,
            "precision": _precision(ranking, insiders, n),
            **{f"{name}_at_same_k": _precision(r, insiders, n) for name, r in rankings.items()},
        }
    return out


def _analyst(
    ranked: Sequence[Alert], insiders: set[str], done: Sequence[Decision]
) -> list[Decision]:
    """The analyst looks at the top alerts not yet decided and says what they are."""
    decided = {d.alert_id for d in done} | {d.employee_id for d in done}
    out: list[Decision] = []
    for alert in ranked:
        if len(out) >= FEEDBACK_PER_DAY:
            break
        if alert.alert_id in decided or alert.employee_id in decided:
            continue
        label: Label = "confirm" if alert.employee_id in insiders else "dismiss"
        out.append(
            Decision(alert.alert_id, alert.employee_id, tuple(sorted(alert.codes)), label, "")
        )
    return out


def _baseline_ranking(name: str, days: Any) -> list[str]:
    if days is None or len(days) == 0:
        return []
    scored = BASELINES[name](days)
    best = (
        days.assign(_score=scored.scores)
        .groupby("employee_id")["_score"]
        .max()
        .sort_values(ascending=False, kind="stable")
    )
    return [str(x) for x in best.index]


def _precision(ranking: Sequence[str], insiders: set[str], k: int) -> float:
    if k <= 0:
        return 0.0
    return round(sum(1 for a in ranking[:k] if a in insiders) / k, 3)


def _summary(
    track: _Track, ranking: Sequence[str], truth: Sequence[Truth], employee_days: int
) -> dict[str, object]:
    insiders = {t.employee_id for t in truth}
    detected = sorted(a for a in insiders if a in track.first)
    scenarios = sorted({t.scenario for t in truth})
    caught = sorted({t.scenario for t in truth if t.employee_id in track.first})
    return {
        "accounts_detected": len(detected),
        "scenarios_detected": len(caught),
        "scenarios": len(scenarios),
        "precision_at_10": _precision(ranking, insiders, TOP_K),
        "precision_at_labelled": _precision(ranking, insiders, len(insiders)),
        "false_alert_days": track.false_days,
        "false_per_10k_employee_days": round(track.false_days / max(employee_days, 1) * 10_000, 2),
    }


def _per_account(
    truth: Sequence[Truth], track: _Track, accesses: pa.Table
) -> list[dict[str, object]]:
    out = []
    for t in sorted(truth, key=lambda x: (x.scenario, x.employee_id)):
        first = track.first.get(t.employee_id)
        out.append(
            {
                "employee_id": t.employee_id,
                "scenario": t.scenario,
                "detected": first is not None,
                "first_alert_at": iso(first) if first is not None else None,
                "hours_to_alert": round((first - t.started_at) / 3.6e9, 1)
                if first is not None
                else None,
                "records_by_then": _records(accesses, t.employee_id, t.started_at, first)
                if first is not None
                else None,
                "records_total": _records(accesses, t.employee_id, t.started_at, t.ended_at),
            }
        )
    return out


def _case(
    truth: Sequence[Truth], track: _Track, tables: Mapping[str, pa.Table]
) -> dict[str, object]:
    """The Jingzhou case: the clerk (warehouse clerk revealer) and the courier (harvester)."""
    case = [t for t in truth if t.scenario == "jingzhou-2016"]
    if not case:
        return {}
    emp = tables["employees"]
    role = dict(zip(emp["employee_id"].to_pylist(), emp["role"].to_pylist(), strict=True))
    clerk = next((t for t in case if role.get(t.employee_id) == "warehouse_clerk"), None)
    courier = next((t for t in case if role.get(t.employee_id) == "courier"), None)
    if clerk is None:
        return {}
    start = clerk.started_at

    def hours(t: Truth | None) -> float | None:
        if t is None or t.employee_id not in track.first:
            return None
        return round((track.first[t.employee_id] - start) / 3.6e9, 1)

    clerk_h, courier_h = hours(clerk), hours(courier)
    return {
        "clerk": clerk.employee_id,
        "courier": courier.employee_id if courier else None,
        "clerk_hours_from_clerk_start": clerk_h,
        "courier_hours_from_clerk_start": courier_h,
        "both_within_24h": clerk_h is not None
        and courier_h is not None
        and max(clerk_h, courier_h) <= 24,
    }


__all__ = ["FEEDBACK_PER_DAY", "TOP_K", "Truth", "day_end", "evaluate", "truth_from_table"]
