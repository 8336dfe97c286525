"""``parcelguard detect run`` and ``detect feedback`` end to end, in process."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from parcelguard.cli import app
from parcelguard.events import read_folder, write_folder
from parcelguard.simulate.run import scenario_names, simulate
from parcelguard.simulate.world import WorldConfig

runner = CliRunner()
WORLD = WorldConfig(seed=9, days=3, employees=400, waybills_per_day=1_500, start=date(2016, 10, 1))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("world")
    write_folder(folder, simulate(WORLD, scenario_names("all")), "parquet")
    return folder


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PARCELGUARD_HOME", str(tmp_path / "home"))
    return tmp_path


def detect(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["detect", *args])
    return result.exit_code, result.stdout, result.stderr


def last_json(stdout: str) -> dict[str, object]:
    return json.loads(stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_run_writes_alerts_and_ends_with_the_contracts_json_line(world: Path, home: Path) -> None:
    out = home / "alerts.jsonl"
    code, stdout, stderr = detect("run", "--events", str(world), "--out", str(out), "--json")
    assert code == 0, stderr
    summary = last_json(stdout)
    assert summary["ok"] is True
    assert summary["employees_scored"] > 300  # type: ignore[operator]
    assert summary["events_read"] > 10_000  # type: ignore[operator]
    lines = out.read_text("utf-8").splitlines()
    assert len(lines) == summary["alerts"] > 0
    first = json.loads(lines[0])
    assert first["detected_at"].endswith("+08:00")
    assert first["reasons"][0]["code"]
    truth = {r["employee_id"] for r in pq.read_table(world / "labels.parquet").to_pylist()}
    assert first["employee_id"] in truth


def test_until_reproduces_the_run_that_ended_at_detected_at(world: Path, home: Path) -> None:
    a, b = home / "a.jsonl", home / "b.jsonl"
    assert detect("run", "--events", str(world), "--out", str(a), "--json")[0] == 0
    detected_at = json.loads(a.read_text("utf-8").splitlines()[0])["detected_at"]
    code, _, err = detect("run", "--events", str(world), "--out", str(b), "--until", detected_at)
    assert code == 0, err
    assert a.read_bytes() == b.read_bytes()


def test_the_same_world_as_csv_gives_the_same_alerts(
    world: Path, home: Path, tmp_path: Path
) -> None:
    csv = tmp_path / "csv"
    write_folder(csv, read_folder(world), "csv")
    a, b = home / "p.jsonl", home / "c.jsonl"
    assert detect("run", "--events", str(world), "--out", str(a))[0] == 0
    assert detect("run", "--events", str(csv), "--out", str(b))[0] == 0
    assert a.read_bytes() == b.read_bytes()


@pytest.fixture
def broken(world: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "broken"
    shutil.copytree(world, folder)
    return folder


def _as_csv(folder: Path, table: str) -> Path:
    data = read_folder(folder, [table])[table]
    (folder / f"{table}.parquet").unlink()
    write_folder(folder, {table: data}, "csv")
    return folder / f"{table}.csv"


def _fails(folder: Path, home: Path, *extra: str) -> str:
    out = home / "x.jsonl"
    code, stdout, stderr = detect(
        "run", "--events", str(folder), "--out", str(out), "--json", *extra
    )
    assert code == 2, stderr
    assert not out.exists()
    assert last_json(stdout)["ok"] is False
    return stderr


def test_a_missing_table_is_named(broken: Path, home: Path) -> None:
    (broken / "scans.parquet").unlink()
    assert "no table scans" in _fails(broken, home)


def test_a_missing_column_names_the_file_and_the_column(broken: Path, home: Path) -> None:
    path = _as_csv(broken, "accesses")
    lines = path.read_text("utf-8").splitlines()
    header = lines[0].split(",")
    drop = header.index("device_id")
    path.write_text("\n".join(",".join(c for i, c in enumerate(line.split(",")) if i != drop)
                              for line in lines) + "\n", "utf-8")  # fmt: skip
    err = _fails(broken, home)
    assert "accesses.csv:device_id" in err
    assert "has no column" in err


def test_a_file_in_another_encoding_is_named(broken: Path, home: Path) -> None:
    path = _as_csv(broken, "sites")
    path.write_bytes(path.read_bytes().replace(b"\n", "，网点\n".encode("gbk"), 1))
    err = _fails(broken, home)
    assert "sites.csv" in err
    assert "UTF-8" in err


def test_an_empty_file_is_named(broken: Path, home: Path) -> None:
    path = _as_csv(broken, "tickets")
    path.write_bytes(b"")
    assert "tickets.csv" in _fails(broken, home)


def test_an_empty_accesses_table_is_refused(broken: Path, home: Path) -> None:
    path = _as_csv(broken, "accesses")
    path.write_text(path.read_text("utf-8").splitlines()[0] + "\n", "utf-8")
    assert "accesses has no rows" in _fails(broken, home)


@pytest.mark.parametrize("until", ["yesterday", "2016-10-02T18:00:00"])
def test_a_bad_until_is_refused_before_any_work(world: Path, home: Path, until: str) -> None:
    assert "--until" in _fails(world, home, "--until", until)


def test_an_unknown_engine_and_a_folder_as_out_are_refused(world: Path, home: Path) -> None:
    assert "--engine" in _fails(world, home, "--engine", "oracle")
    code, _, err = detect("run", "--events", str(world), "--out", str(home), "--json")
    assert code == 2
    assert "--out" in err


def test_feedback_is_stored_and_reranks_the_next_run(world: Path, home: Path) -> None:
    out = home / "alerts.jsonl"
    assert detect("run", "--events", str(world), "--out", str(out))[0] == 0
    alerts = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    top = alerts[0]
    code, stdout, err = detect("feedback", top["alert_id"], "dismiss", "--json")
    assert code == 0, err
    assert last_json(stdout)["decisions"] == 1
    assert (home / "home" / "detect" / "feedback.jsonl").is_file()
    code, stdout, _ = detect("run", "--events", str(world), "--out", str(out), "--json")
    assert last_json(stdout)["feedback_used"] == 1
    again = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    moved = next(a for a in again if a["employee_id"] == top["employee_id"])
    assert moved["score"] < top["score"]
    assert again[0]["employee_id"] != top["employee_id"]
    code, _, _ = detect("run", "--events", str(world), "--out", str(out), "--no-feedback")
    assert json.loads(out.read_text("utf-8").splitlines()[0])["employee_id"] == top["employee_id"]


def test_feedback_on_an_unknown_alert_or_label_is_refused(world: Path, home: Path) -> None:
    out = home / "alerts.jsonl"
    assert detect("feedback", "AL000", "confirm")[0] == 2  # no run yet
    assert detect("run", "--events", str(world), "--out", str(out))[0] == 0
    code, _, err = detect("feedback", "AL000", "confirm")
    assert code == 2
    assert "no such alert" in err
    first = json.loads(out.read_text("utf-8").splitlines()[0])["alert_id"]
    assert detect("feedback", first, "maybe")[0] == 2
