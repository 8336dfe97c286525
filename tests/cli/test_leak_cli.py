"""``parcelguard leak ingest``: the JSON contract, the case on disk, bilingual output, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from parcelguard.cli import app
from parcelguard.simulate.leak_file import LeakFileOptions, synthetic_records, write_leak_file

runner = CliRunner()
RECORDS = synthetic_records(80, seed=31)


@pytest.fixture
def home(tmp_path: Path, kek: str) -> dict[str, str]:
    env = {
        "PARCELGUARD_HOME": str(tmp_path / "home"),
        "PARCELGUARD_DB": f"sqlite:///{tmp_path / 'home' / 'parcelguard.db'}",
        "PARCELGUARD_KEK": kek,
    }
    result = runner.invoke(app, ["init", "--json"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return env


def invoke(env: dict[str, str], *args: str):
    return runner.invoke(app, list(args), env=env, catch_exceptions=False)


def last_json(output: str) -> dict[str, object]:
    return json.loads(output.strip().splitlines()[-1])


def test_ingest_json_is_the_report_and_the_case_is_written(
    home: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "黑市样本 2026.csv"
    truth = write_leak_file(RECORDS, path, seed=1, options=LeakFileOptions(encoding="gbk"))
    result = invoke(
        home, "leak", "ingest", str(path), "--first-seen", "2026-11-30T08:00:00+08:00", "--json"
    )
    assert result.exit_code == 0, result.stderr
    report = last_json(result.stdout)
    assert report["ok"] is True
    assert report["rows_read"] == truth.rows
    assert report["person_records"] == truth.persons
    assert report["untrue_excluded"] == truth.untrue_rows
    assert report["encoding"]["name"] == "gbk"  # type: ignore[index]
    assert report["first_seen"] == "2026-11-30T08:00:00+08:00"
    assert report["case"] == "黑市样本-2026"
    case_dir = Path(home["PARCELGUARD_HOME"]) / "cases" / "黑市样本-2026"
    assert (case_dir / "case.json").is_file()
    assert (case_dir / "persons.parquet").is_file()
    stored = json.loads((case_dir / "case.json").read_text(encoding="utf-8"))
    assert stored["person_records"] == truth.persons
    for record in RECORDS:
        assert record.phone not in result.stdout + result.stderr
        assert record.name not in result.stdout


def test_ingest_speaks_chinese_and_english(home: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "leak.csv"
    write_leak_file(RECORDS, path, seed=2)
    zh = invoke(home, "leak", "ingest", str(path), "--case", "c1", "--lang", "zh")
    assert zh.exit_code == 0, zh.stderr
    assert "去重后的自然人" in zh.stdout
    assert "列识别" in zh.stdout
    en = invoke(home, "leak", "ingest", str(path), "--case", "c1", "--lang", "en")
    assert en.exit_code == 0, en.stderr
    assert "distinct persons" in en.stdout
    assert "Columns" in en.stdout


@pytest.mark.parametrize(
    ("data", "problem"),
    [(b"", "empty"), (b"\x00\x01binary\x00" * 100, "not a text file or spreadsheet")],
)
def test_a_bad_file_exits_2_with_one_line(
    home: dict[str, str], tmp_path: Path, data: bytes, problem: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(data)
    result = invoke(home, "leak", "ingest", str(path), "--json")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"parcelguard: {path}: {problem}")
    assert result.stderr.count("\n") == 1
    assert last_json(result.stdout)["ok"] is False
    assert not (Path(home["PARCELGUARD_HOME"]) / "cases" / "bad").exists()


def test_a_bad_first_seen_or_case_name_is_named(home: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "leak.csv"
    write_leak_file(RECORDS, path, seed=3)
    naive = invoke(home, "leak", "ingest", str(path), "--first-seen", "2026-11-30T08:00")
    assert naive.exit_code == 2
    assert "--first-seen" in naive.stderr
    bad = invoke(home, "leak", "ingest", str(path), "--case", "../escape")
    assert bad.exit_code == 2
    assert "case '../escape'" in bad.stderr


def test_a_header_that_looks_like_rich_markup_is_shown_as_text(
    home: dict[str, str], tmp_path: Path
) -> None:
    """Text from a leaked file is data: a header like ``手机[/]`` must not be read as markup."""
    path = tmp_path / "markup.csv"
    lines = ["姓名,手机[/],[bold]地址"] + [f"{r.name},{r.phone},{r.address}" for r in RECORDS[:20]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = invoke(home, "leak", "ingest", str(path), "--lang", "en")
    assert result.exit_code == 0, result.stderr
    assert "手机[/]" in result.stdout
    assert "[bold]地址" in result.stdout


def test_ingest_takes_a_worker_count_and_refuses_a_negative_one(
    home: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "leak.csv"
    truth = write_leak_file(RECORDS, path, seed=4, options=LeakFileOptions(encoding="gbk"))
    result = invoke(home, "leak", "ingest", str(path), "--workers", "0", "--case", "w", "--json")
    assert result.exit_code == 0, result.stderr
    report = last_json(result.stdout)
    assert (report["rows_read"], report["person_records"]) == (truth.rows, truth.persons)
    assert not any("worker" in n for n in report["notes"])  # type: ignore[union-attr]
    refused = invoke(home, "leak", "ingest", str(path), "--workers", "-1", "--json")
    assert refused.exit_code == 2
    assert "--workers" in refused.stderr
