"""``parcelguard policy test``: the shipped cases pass, and an edited policy shows what changed."""

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from parcelguard.cli import app
from parcelguard.config import Settings

runner = CliRunner()


def run(env: dict[str, str], *args: str):
    return runner.invoke(app, ["policy", *args, "--json"], env=env)


def test_the_default_policies_pass_their_case_table(
    env: dict[str, str], settings: Settings
) -> None:
    result = run(env, "test")
    assert result.exit_code == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["cases"] >= 20
    assert outcome["failed"] == []


def test_an_operator_who_widens_a_policy_sees_which_cases_changed(
    env: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    edited = tmp_path / "policies"
    shutil.copytree(settings.policy_dir, edited)
    # The case's mistake: a station clerk may look up any waybill, exception or not.
    (edited / "nationwide.cedar").write_text(
        '@id("clerk-nationwide")\n@form("plaintext")\n@reason("legacy_lookup")\n'
        "permit (principal, action, resource)\n"
        'when { principal.role == "station_clerk" };\n',
        encoding="utf-8",
    )
    result = run(env, "test", "--dir", str(edited))
    assert result.exit_code == 1
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    # The clerk with an exception still gets the least revealing form of the two permits;
    # the list-driven lookup of the case is what changed.
    assert [f["name"] for f in outcome["failed"]] == [
        "station clerk, no exception (the case's list-driven lookup)"
    ]
    assert outcome["failed"][0]["policy_ids"] == ["clerk-nationwide"]
    assert outcome["failed"][0]["form"] == "plaintext"


def test_a_policy_that_does_not_match_the_schema_is_named(
    env: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    edited = tmp_path / "policies"
    shutil.copytree(settings.policy_dir, edited)
    (edited / "typo.cedar").write_text(
        '@id("typo")\n@form("masked")\npermit (principal, action, resource)\n'
        'when { principal.rolle == "courier" };\n',
        encoding="utf-8",
    )
    result = run(env, "test", "--dir", str(edited))
    assert result.exit_code == 2
    assert "policy file typo.cedar" in result.stderr
