"""``parcelguard eval`` end to end on a small simulated world, in process."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from parcelguard.cli import app
from parcelguard.events import write_folder
from parcelguard.simulate.run import scenario_names, simulate
from parcelguard.simulate.world import WorldConfig

runner = CliRunner()
WORLD = WorldConfig(seed=9, days=3, employees=400, waybills_per_day=1_500, start=date(2016, 10, 1))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("world")
    write_folder(folder, simulate(WORLD, scenario_names("all")), "parquet")
    return folder


def run(*args: str) -> tuple[int, dict[str, object], str]:
    result = runner.invoke(app, ["eval", *args])
    lines = result.stdout.strip().splitlines()
    return result.exit_code, json.loads(lines[-1]) if lines else {}, result.stderr


def test_eval_scores_every_labelled_account_and_every_method(world: Path) -> None:
    code, report, err = run(
        "--events", str(world), "--truth", str(world / "labels.parquet"), "--json"
    )
    assert code == 0, err
    truth = pq.read_table(world / "labels.parquet").to_pylist()
    accounts = report["accounts"]
    assert isinstance(accounts, list)
    assert {a["employee_id"] for a in accounts} == {t["employee_id"] for t in truth}
    for a in accounts:
        if a["detected"]:
            assert (
                a["hours_to_alert"] >= 0
            )  # an alert never comes before the first malicious access
            assert a["first_alert_at"].endswith("23:59:59.999999+08:00")  # runs at the day's end
    ours = report["detectors"]
    assert isinstance(ours, dict)
    assert 0 < ours["accounts_detected"] <= len(truth)
    assert 0 <= ours["precision_at_10"] <= 1
    assert set(report["baselines"]) == {"pyod_iforest", "pyod_ecod", "volume_threshold"}  # type: ignore[arg-type]
    assert set(report["per_detector"]) == {
        "explanation",
        "baseline",
        "list_lookup",
        "collusion",
        "signals",
    }  # type: ignore[arg-type]
    assert report["days"] >= WORLD.days  # type: ignore[operator]
    assert report["case"]["clerk"] in {t["employee_id"] for t in truth}  # type: ignore[index]


def test_the_human_table_in_chinese(world: Path) -> None:
    result = runner.invoke(
        app,
        ["eval", "--events", str(world), "--truth", str(world / "labels.parquet"), "--lang", "zh"],
    )
    assert result.exit_code == 0, result.stderr
    assert "前10精确率" in result.stdout
    assert "pyod_ecod" in result.stdout


def test_a_missing_or_broken_truth_file_is_named(world: Path, tmp_path: Path) -> None:
    code, _report, err = run(
        "--events", str(world), "--truth", str(tmp_path / "labels.parquet"), "--json"
    )
    assert code == 2
    assert "no such file" in err
    bad = tmp_path / "labels.csv"
    bad.write_text("employee_id,scenario\nE1,snooper\n", "utf-8")
    code, _, err = run("--events", str(world), "--truth", str(bad), "--json")
    assert code == 2
    assert "started_at" in err
