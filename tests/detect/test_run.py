"""Detection runs on simulated worlds: explanations, alerts with reasons, --until."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from parcelguard.detect import features as F
from parcelguard.detect.engine import Engine, read_events
from parcelguard.detect.run import detect

DAY_US = 24 * 3600 * 1_000_000


def labels(folder: Path) -> dict[str, str]:
    rows = pq.read_table(folder / "labels.parquet").to_pylist()
    return {r["employee_id"]: r["scenario"] for r in rows}


def test_the_reader_never_hands_the_ground_truth_to_the_engine(small_world: Path) -> None:
    tables = read_events(small_world)
    assert "labels" not in tables
    assert pc.max(tables["accesses"]["ts"]).as_py() > 1_475_000_000_000_000  # integer micros


def test_the_workflow_explains_at_least_99_percent_of_honest_reveals(honest_world: Path) -> None:
    engine = Engine("duckdb", read_events(honest_world))
    e = F.enriched_accesses(engine.tables, F.Slack(), r"PG\d{12}")
    days = engine.arrow(F.actor_days(e))
    reveals = pc.sum(days["reveals"]).as_py()
    unexplained = pc.sum(days["unexplained"]).as_py()
    assert reveals > 5_000
    assert 1 - unexplained / reveals >= 0.99
    # What is left is the security officers' investigations: the format has no cases yet.
    left = days.filter(pc.greater(days["unexplained"], 0))
    assert set(left["role"].to_pylist()) <= {"security_officer"}


def test_without_slack_the_honest_noise_is_not_explained(honest_world: Path) -> None:
    """The slack is what explains the agent who looks a parcel up while saving the ticket."""
    engine = Engine("duckdb", read_events(honest_world))
    strict = F.Slack(0, 0, 0, 0, 0, 0, 0)
    e = F.enriched_accesses(engine.tables, strict, r"PG\d{12}")
    days = engine.arrow(F.actor_days(e))
    e2 = F.enriched_accesses(engine.tables, F.Slack(), r"PG\d{12}")
    days2 = engine.arrow(F.actor_days(e2))
    assert pc.sum(days["unexplained"]).as_py() > pc.sum(days2["unexplained"]).as_py()


@pytest.fixture(scope="module")
def small_run(small_world: Path) -> tuple[Engine, object]:
    engine = Engine("duckdb", read_events(small_world))
    return engine, detect(engine)


def test_the_insiders_are_alerted_and_hardly_anyone_else(
    small_world: Path, small_run: tuple[Engine, object]
) -> None:
    _, result = small_run
    truth = labels(small_world)
    alerted = {a.employee_id for a in result.alerts}  # type: ignore[attr-defined]
    by_scenario = {s: {e for e, x in truth.items() if x == s} for s in set(truth.values())}
    for scenario in ("bulk-exporter", "departing", "account-takeover", "foreign-probing",
                     "it-bulk-decrypt", "low-and-slow", "fake-tickets"):  # fmt: skip
        assert by_scenario[scenario] <= alerted, scenario
    assert by_scenario["jingzhou-2016"] & alerted  # the revealers at least
    assert len(alerted - set(truth)) <= 1


def test_alerts_carry_reasons_and_the_accounts_own_events_as_evidence(
    small_world: Path, small_run: tuple[Engine, object]
) -> None:
    _, result = small_run
    accesses = pq.read_table(small_world / "accesses.parquet")
    owner = dict(
        zip(accesses["event_id"].to_pylist(), accesses["employee_id"].to_pylist(), strict=True)
    )
    for alert in result.alerts:  # type: ignore[attr-defined]
        record = alert.as_dict()
        assert set(record) >= {"employee_id", "score", "detected_at", "first_seen", "last_seen",
                               "reasons", "evidence"}  # fmt: skip
        assert 0 < record["score"] <= 1
        assert record["first_seen"] <= record["last_seen"]
        for reason in record["reasons"]:
            assert set(reason) == {"code", "detail", "value", "baseline", "window"}
            assert reason["window"].startswith("P")
            assert reason["window"].endswith("D")
        assert record["evidence"]
        holders_list = "holds_revealed_list" in alert.codes
        if not holders_list:
            assert all(owner[i] == alert.employee_id for i in record["evidence"])


def test_the_same_alerts_come_out_of_a_run_until_detected_at(
    small_run: tuple[Engine, object],
) -> None:
    engine, result = small_run
    again = detect(engine, result.detected_at)  # type: ignore[attr-defined]
    assert [a.as_dict() for a in again.alerts] == [a.as_dict() for a in result.alerts]  # type: ignore[attr-defined]


def test_until_keeps_later_events_out(small_run: tuple[Engine, object]) -> None:
    engine, full = small_run
    start = int(
        pc.min(
            engine.backend.to_pyarrow(engine.tables["accesses"].ts.min().as_table()).column(0)
        ).as_py()
    )
    until = start + DAY_US
    early = detect(engine, until)
    assert early.events_read < full.events_read  # type: ignore[attr-defined]
    assert early.detected_at <= until
    assert all(a.last_seen <= until for a in early.alerts)
    assert all(a.detected_at == early.detected_at for a in early.alerts)
