"""``parcelguard policy explain``: which policy decides, on which facts, and nothing revealed."""

import json

from typer.testing import CliRunner

from parcelguard.cli import app
from tests.reveal.conftest import NOW, World

runner = CliRunner()


def explain(env: dict[str, str], *args: str) -> dict[str, object]:
    result = runner.invoke(
        app, ["policy", "explain", *args, "--at", NOW.isoformat(), "--json"], env=env
    )
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_explain_names_the_deciding_policy_and_the_facts(env: dict[str, str], world: World) -> None:
    wb = world.waybills[0]
    allowed = explain(env, "--actor", "C1", "--waybill", wb.waybill_no, "--device", "D-C1")
    assert allowed["allowed"] is True
    assert [p["id"] for p in allowed["policies"]] == ["courier-assigned-phone"]  # type: ignore[index]
    assert allowed["facts"]["assignment"]["assigned"] is True  # type: ignore[index]
    denied = explain(env, "--actor", "C2", "--waybill", wb.waybill_no, "--device", "D-C2")
    assert (denied["allowed"], denied["reason"]) == (False, "no_matching_policy")
    assert denied["decided_by"] == "deny by default (no permit matched)"
    gone = explain(env, "--actor", "X1", "--waybill", wb.waybill_no, "--device", "D-X1")
    assert [p["id"] for p in gone["policies"]] == ["inactive-account"]  # type: ignore[index]
    text = json.dumps([allowed, denied, gone], ensure_ascii=False)
    assert wb.recipient_phone not in text
    assert wb.recipient_name not in text
    assert world.log.head().tree_size == 0  # explaining appends nothing
