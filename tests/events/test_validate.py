"""validate_folder finds what the reference checker finds, and agrees with it on our files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from parcelguard.events import validate_folder, write_folder
from tests.events.world import build, world_rows

FORMATS = ["parquet", "csv"]


def run_checker(checker: Path, folder: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(checker), str(folder), *flags],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_valid_world_has_no_problems(
    tmp_path: Path, world: dict[str, pa.Table], fmt: str
) -> None:
    write_folder(tmp_path, world, fmt)  # type: ignore[arg-type]

    assert validate_folder(tmp_path, truth=True) == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_reference_checker_accepts_what_we_write(
    tmp_path: Path, world: dict[str, pa.Table], fmt: str, reference_checker: Path
) -> None:
    write_folder(tmp_path, world, fmt)  # type: ignore[arg-type]

    result = run_checker(reference_checker, tmp_path, "--truth")
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"ok": true' in result.stdout


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_dangling_reference_is_found_by_both_checkers(
    tmp_path: Path, fmt: str, reference_checker: Path
) -> None:
    rows = world_rows()
    rows["scans"]["employee_id"][1] = "E999"
    write_folder(tmp_path, build(rows), fmt)  # type: ignore[arg-type]

    problems = validate_folder(tmp_path)
    assert [(p.where, p.code) for p in problems] == [
        (f"scans.{fmt}:employee_id", "dangling_reference")
    ]
    assert "employees" in problems[0].message
    assert "row 2" in problems[0].message
    result = run_checker(reference_checker, tmp_path)
    assert result.returncode == 1
    assert "scans.employee_id" in result.stdout


def test_a_waybill_of_another_carrier_in_accesses_is_not_dangling(
    tmp_path: Path, world: dict[str, pa.Table]
) -> None:
    """The spec lets other carriers' numbers appear in accesses; the world has one (SF…)."""
    write_folder(tmp_path, world, "csv")

    assert "SF1234567890123" in (tmp_path / "accesses.csv").read_text()
    assert validate_folder(tmp_path) == []


def test_a_repeated_event_id_is_found(tmp_path: Path) -> None:
    rows = world_rows()
    rows["accesses"]["event_id"][4] = "A002"
    write_folder(tmp_path, build(rows), "parquet")

    assert [(p.where, p.code) for p in validate_folder(tmp_path)] == [
        ("accesses.parquet:event_id", "duplicate_id")
    ]


def test_ground_truth_is_required_only_with_truth(
    tmp_path: Path, world: dict[str, pa.Table]
) -> None:
    del world["labels"]
    write_folder(tmp_path, world, "csv")

    assert validate_folder(tmp_path) == []
    assert [(p.where, p.code) for p in validate_folder(tmp_path, truth=True)] == [
        ("labels", "missing_table")
    ]


def test_every_problem_is_listed_not_just_the_first(
    tmp_path: Path, world: dict[str, pa.Table]
) -> None:
    write_folder(tmp_path, world, "csv")
    (tmp_path / "tickets.csv").unlink()
    sites = tmp_path / "sites.csv"
    sites.write_text(sites.read_text().replace("warehouse", "depot"))
    accesses = tmp_path / "accesses.csv"
    accesses.write_text(
        accesses.read_text().replace("2016-10-03T23:00:00+08:00", "2016-10-03 23:00")
    )
    employees = tmp_path / "employees.csv"
    employees.write_text(
        employees.read_text().replace("E003,station_clerk,S01", "E003,station_clerk,S09")
    )

    found = {(p.where, p.code) for p in validate_folder(tmp_path)}
    assert found == {
        ("tickets", "missing_table"),
        ("sites.csv:kind", "bad_value"),
        ("accesses.csv:ts", "no_offset"),
        ("employees.csv:site_id", "dangling_reference"),
    }


def test_a_folder_that_does_not_exist_is_one_problem(tmp_path: Path) -> None:
    assert [p.code for p in validate_folder(tmp_path / "nowhere")] == ["no_folder"]
