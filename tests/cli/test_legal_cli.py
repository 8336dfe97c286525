"""``parcelguard legal assess`` end to end, in process: the JSON contract, both languages, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from parcelguard.cli import app

runner = CliRunner()


def write(tmp_path: Path, content: str | bytes, name: str = "case.json") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def legal(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["legal", "assess", *args])
    return result.exit_code, result.stdout, result.stderr


def last_json(stdout: str) -> dict[str, Any]:
    return json.loads(stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_json_mode_ends_with_the_assessment(tmp_path: Path) -> None:
    case = write(
        tmp_path,
        json.dumps(
            {
                "records": {"general": {"seized": 4_200, "proven_duplicate": 200}},
                "obtained_in_duties": True,
                "illegal_gains_yuan": 8_000.5,
            }
        ),
    )
    code, stdout, stderr = legal(str(case), "--json")
    assert code == 0, stderr
    out = last_json(stdout)
    assert out["ok"] is True
    assert out["severity"] == "serious"
    assert [c["id"] for c in out["clauses"]] == ["art5.1.8", "art5.1.5", "art5.1.7"]
    sums = out["arithmetic"]
    assert isinstance(sums, dict)
    line = sums["categories"][0]
    assert (line["counted"], line["serious_threshold"], line["especially_threshold"]) == (
        4_000,
        2_500,
        25_000,
    )
    assert line["serious_share_exact"] == "8/5"
    assert sums["illegal_gains_yuan"] == "8000.5"
    assert sums["gains_serious_threshold"] == "2500"


def test_a_case_below_every_standard_is_none(tmp_path: Path) -> None:
    case = write(tmp_path, '{"records": {"trace": 24, "accommodation": 250}}')
    code, stdout, _ = legal(str(case), "--json")
    out = last_json(stdout)
    assert (code, out["severity"]) == (0, "none")
    assert out["arithmetic"]["serious_sum_exact"] == "49/50"


def test_human_output_in_english_and_chinese(tmp_path: Path) -> None:
    case = write(tmp_path, '{"records": {"trace": 20, "accommodation": 200, "general": 1000}}')
    code, english, stderr = legal(str(case), "--lang", "en")
    assert code == 0, stderr
    assert "serious (情节严重)" in english
    assert "art5.1.6" in english
    assert "sum of shares" in english
    assert "added up in the corresponding proportions" in english
    code, chinese, _ = legal(str(case), "--lang", "zh")
    assert code == 0
    assert "情节: 情节严重" in chinese
    assert "按相应比例合计" in chinese
    assert "比例合计" in chinese


def test_a_bom_is_accepted(tmp_path: Path) -> None:
    case = write(tmp_path, '\ufeff{"records": {"general": 5000}}'.encode())
    code, stdout, _ = legal(str(case), "--json")
    assert (code, last_json(stdout)["severity"]) == (0, "serious")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "empty file"),
        ("   \n", "empty file"),
        ('{"records": {', "not valid JSON at line 1"),
        ("[1]", "not a JSON object"),
        ('{"records": {"trace": -1}}', "records.trace: -1 is negative"),
        ('{"records": {"trace": 2.5}}', "records.trace: 2.5 is not a whole number"),
        ('{"records": {"gps": 1}}', "unknown category gps"),
        ('{"records": {}, "insider": true}', "unknown fact insider"),
        ('{"records": {}, "records": {}}', "key records appears twice"),
        ('{"records": {}, "illegal_gains_yuan": NaN}', "NaN is not a number JSON allows"),
        (b"\xff\xfe{\x00", "not UTF-8 text"),
        ("[" * 100_000, "nested too deeply"),
    ],
)
def test_bad_case_files_are_named_errors_with_exit_code_2(
    tmp_path: Path, content: str | bytes, problem: str
) -> None:
    case = write(tmp_path, content)
    code, stdout, stderr = legal(str(case), "--json")
    assert code == 2
    assert stderr.startswith(f"parcelguard: {case}: ")
    assert problem in stderr
    error = last_json(stdout)
    assert error["ok"] is False
    assert error["error"]["code"] == "bad_input"


def test_missing_file_folder_and_oversized_file(tmp_path: Path) -> None:
    code, _, stderr = legal(str(tmp_path / "nope.json"))
    assert (code, "no such file" in stderr) == (2, True)
    code, _, stderr = legal(str(tmp_path))
    assert (code, "is a folder" in stderr) == (2, True)
    big = write(tmp_path, '{"records": {}, "x": "' + "a" * (1 << 20) + '"}')
    code, _, stderr = legal(str(big))
    assert (code, "too large for a case file" in stderr) == (2, True)


def test_chinese_mode_glosses_the_error(tmp_path: Path) -> None:
    case = write(tmp_path, '{"records": {"gps": 1}}')
    code, _, stderr = legal(str(case), "--lang", "zh")
    assert code == 2
    assert "（输入有误）" in stderr
