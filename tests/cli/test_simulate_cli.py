"""``parcelguard simulate`` end to end: the files, their determinism, the official checker."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from parcelguard.cli import app

runner = CliRunner()
SMALL = ["--days", "3", "--employees", "400", "--waybills-per-day", "1500", "--seed", "11"]
CHECKER = Path(__file__).resolve().parents[3] / "shared" / "spec" / "validate_events.py"


def simulate(out: Path, *extra: str):
    return runner.invoke(app, ["simulate", "--out", str(out), *SMALL, *extra, "--json"])


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_the_same_seed_writes_the_same_bytes(tmp_path: Path, fmt: str) -> None:
    extra = ["--csv"] if fmt == "csv" else []
    first, second = simulate(tmp_path / "a", *extra), simulate(tmp_path / "b", *extra)
    assert first.exit_code == 0, first.stderr
    assert second.exit_code == 0, second.stderr
    rows = json.loads(first.stdout.strip().splitlines()[-1])["rows"]
    assert rows["waybills"] > 3_000
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert len(files) == 9
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_the_official_checker_accepts_the_world(tmp_path: Path) -> None:
    if not CHECKER.exists():
        pytest.skip(f"{CHECKER} is not here (it lives in the shared spec folder)")
    for fmt in ("parquet", "csv"):
        out = tmp_path / fmt
        assert simulate(out, *(["--csv"] if fmt == "csv" else [])).exit_code == 0
        checked = subprocess.run(
            [sys.executable, str(CHECKER), str(out), "--truth"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert checked.returncode == 0, checked.stdout


def test_describe_reads_the_world_back(tmp_path: Path) -> None:
    assert simulate(tmp_path / "w").exit_code == 0
    result = runner.invoke(app, ["simulate", "describe", str(tmp_path / "w"), "--json"])
    assert result.exit_code == 0, result.stderr
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    assert facts["rows"]["labels"] >= 9
    assert "courier" in facts["reveals_by_role"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenarios", "snoopr"], "--scenarios: unknown snoopr"),
        (["--regime", "guarded"], "--regime guarded"),
        (["--start", "2016-13-01"], "--start 2016-13-01: not a date"),
    ],
)
def test_bad_options_are_named(tmp_path: Path, args: list[str], message: str) -> None:
    result = simulate(tmp_path / "x", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_describe_of_a_folder_that_is_not_a_world(tmp_path: Path) -> None:
    result = runner.invoke(app, ["simulate", "describe", str(tmp_path), "--json"])
    assert result.exit_code == 2
    assert str(tmp_path) in result.stderr


def test_into_store_puts_the_waybills_with_synthetic_recipients(tmp_path: Path, kek: str) -> None:
    env = {"PARCELGUARD_HOME": str(tmp_path / "home"), "PARCELGUARD_KEK": kek}
    result = runner.invoke(
        app,
        [
            "simulate",
            "--out",
            str(tmp_path / "w"),
            *SMALL,
            "--scenarios",
            "none",
            "--into-store",
            "--json",
        ],
        env=env,
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["into_store"]["waybills"] == summary["rows"]["waybills"]
    stats = runner.invoke(app, ["vault", "stats", "--json"], env=env)
    assert (
        json.loads(stats.stdout.strip().splitlines()[-1])["waybills"] == summary["rows"]["waybills"]
    )
