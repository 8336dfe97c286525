"""``leak match`` and ``leak canary`` end to end, in process, on a small simulated world.

The commands are registered on a ``leak`` app of the test's own (``register`` is what the
real ``leak`` sub-app calls), so they are exercised exactly as the CLI wires them.
"""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from parcelguard.cli.leak_match import register
from parcelguard.forensics.case import CaseDir
from tests.forensics.leak_world import LeakWorld, after_last, persons

runner = CliRunner()
leak = typer.Typer()
register(leak)


def last_json(stdout: str) -> dict[str, object]:
    return json.loads(stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _case(world: LeakWorld) -> str:
    first_seen = after_last(world.phone_reveals(world.clerk))
    case = CaseDir.under(world.settings.home, "黑市样本")
    case.write_json(case.case_file, {"first_seen": first_seen.isoformat()})
    case.write_persons(persons(world, sorted(world.revealed(world.clerk, first_seen)), strangers=5))
    return case.name


def test_match_prints_the_figures_and_names_the_clerk(world: LeakWorld) -> None:
    name = _case(world)
    done = runner.invoke(leak, ["match", name, "--json"])
    assert done.exit_code == 0, done.stderr
    result = last_json(done.stdout)
    assert result["ok"] is True
    attribution = result["attribution"]
    assert attribution["sources"][0] == world.clerk  # type: ignore[index]
    top = attribution["accounts"][0]  # type: ignore[index]
    assert top["evidence_entries"] > 0
    assert "evidence_sequences" not in top
    written = json.loads(CaseDir.under(world.settings.home, name).match_file.read_text("utf-8"))
    assert (
        len(written["attribution"]["accounts"][0]["evidence_sequences"]) == top["evidence_entries"]
    )
    for lang, word in (("zh", "本公司收件人"), ("en", "our recipients")):
        shown = runner.invoke(leak, ["match", name, "--lang", lang])
        assert shown.exit_code == 0, shown.stderr
        assert word in shown.stdout
        assert world.clerk in shown.stdout


def test_an_unknown_case_is_a_clear_error(world: LeakWorld) -> None:
    done = runner.invoke(leak, ["match", "nope", "--json"])
    assert done.exit_code == 2
    assert "leak ingest" in done.stderr


def test_canary_plant_and_list(world: LeakWorld) -> None:
    station = next(
        r["site_id"] for r in world.tables["sites"].to_pylist() if r["kind"] == "station"
    )
    done = runner.invoke(leak, ["canary", "plant", "--station", station, "--count", "3", "--json"])
    assert done.exit_code == 0, done.stderr
    planted = last_json(done.stdout)
    assert planted["planted"] == 3
    assert all("*" in c["phone_masked"] for c in planted["canaries"])  # type: ignore[union-attr]
    listed = last_json(runner.invoke(leak, ["canary", "list", "--json"]).stdout)
    assert listed["count"] == 3
    assert {c["status"] for c in listed["canaries"]} == {"live"}  # type: ignore[union-attr]
    shown = runner.invoke(leak, ["canary", "list", "--lang", "zh"])
    assert "诱饵记录" in shown.stdout
    both = runner.invoke(
        leak, ["canary", "plant", "--station", station, "--sender", "S1", "--count", "1"]
    )
    assert both.exit_code == 2
    assert "exactly one of --station or --sender" in both.stderr
