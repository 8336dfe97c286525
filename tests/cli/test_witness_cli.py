"""The witness cosigns a growing log and raises the alarm when history is rewritten."""

import json

import sqlalchemy as sa
from typer.testing import CliRunner

from parcelguard.admin import open_audit_log
from parcelguard.audit.checkpoint import open_checkpoint, verify_cosignature
from parcelguard.audit.log import AuditLog
from parcelguard.audit.note import Verifier
from parcelguard.audit.tamper import rewrite_entry
from parcelguard.cli import app
from parcelguard.config import Settings
from parcelguard.storage.schema import (
    audit_checkpoints,
    audit_cosignatures,
    audit_entries,
    audit_nodes,
)
from tests.audit.test_log import entries

runner = CliRunner()


def audit(env: dict[str, str], *args: str):
    return runner.invoke(app, ["audit", *args, "--json"], env=env)


def last(result) -> dict[str, object]:
    return json.loads(result.stdout.strip().splitlines()[-1])


def rewrite_history(log: AuditLog, index: int) -> None:
    rewrite_entry(log.engine, index, reason="investigation")


def test_the_witness_cosigns_a_growing_log(env: dict[str, str], settings: Settings) -> None:
    log = open_audit_log(settings)
    log.append(entries(5))
    head = last(audit(env, "head"))
    first = audit(env, "witness", "--once")
    assert first.exit_code == 0, first.stderr
    outcome = last(first)
    assert outcome["action"] == "cosigned"
    checkpoint, _ = open_checkpoint(
        str(head["checkpoint"]),
        Verifier.from_key(str(last(audit(env, "pubkey"))["verifier_key"])),
    )
    assert (
        verify_cosignature(str(outcome["cosignature"]), checkpoint, str(outcome["witness_key"])) > 0
    )
    log.append(entries(3, offset=5))
    audit(env, "head")
    assert last(audit(env, "witness", "--once"))["tree_size"] == 8
    assert last(audit(env, "witness", "--once"))["action"] == "unchanged"


def test_a_rewritten_history_that_verifies_is_still_caught(
    env: dict[str, str], settings: Settings
) -> None:
    log = open_audit_log(settings)
    log.append(entries(8))
    audit(env, "head")
    assert audit(env, "witness", "--once").exit_code == 0
    rewrite_history(log, 2)
    assert last(audit(env, "verify"))["verified"] is True  # internally consistent again
    audit(env, "head")  # the log signs the rewritten tree of the same size
    alarm = audit(env, "witness", "--once")
    assert alarm.exit_code == 1
    assert "fork: two different roots for tree size 8" in alarm.stderr
    log.append(entries(4, offset=8))
    audit(env, "head")
    alarm = audit(env, "witness", "--once")
    assert alarm.exit_code == 1
    assert "does not extend the cosigned tree of 8" in alarm.stderr


def test_a_rollback_is_caught(env: dict[str, str], settings: Settings) -> None:
    log = open_audit_log(settings)
    log.append(entries(6))
    audit(env, "head")
    assert audit(env, "witness", "--once").exit_code == 0
    with log.engine.begin() as conn:
        conn.execute(audit_entries.delete().where(audit_entries.c.seq >= 3))
        conn.execute(
            audit_nodes.delete().where(
                (audit_nodes.c.idx + 1) * sa.func.power(2, audit_nodes.c.level) > 3
            )
        )
        conn.execute(audit_cosignatures.delete())
        conn.execute(audit_checkpoints.delete())
    audit(env, "head")
    alarm = audit(env, "witness", "--once")
    assert alarm.exit_code == 1
    assert "rollback: the log shows 3 entries, the witness cosigned 6" in alarm.stderr


def test_a_damaged_witness_state_is_an_alarm_not_a_fresh_start(
    env: dict[str, str], settings: Settings
) -> None:
    log = open_audit_log(settings)
    log.append(entries(3))
    audit(env, "head")
    assert audit(env, "witness", "--once").exit_code == 0
    (settings.home / "witness" / "state.json").write_text("{not json")
    result = audit(env, "witness", "--once")
    assert result.exit_code == 1
    assert "unreadable witness state" in result.stderr


def test_bundles_carry_the_witness_cosignature_and_investigators_can_require_it(
    env: dict[str, str], settings: Settings, tmp_path
) -> None:
    log = open_audit_log(settings)
    log.append(entries(6))
    audit(env, "head")
    unwitnessed = tmp_path / "early.json"
    assert audit(env, "bundle", "--entries", "2", "--out", str(unwitnessed)).exit_code == 0
    witnessed = last(audit(env, "witness", "--once"))
    witness_key = str(witnessed["witness_key"])
    log.append(entries(2, offset=6))  # newer entries, not yet witnessed

    bundle = tmp_path / "evidence.json"
    assert audit(env, "bundle", "--entries", "1,5", "--out", str(bundle)).exit_code == 0
    pubkey = str(last(audit(env, "pubkey"))["verifier_key"])
    checked = audit(
        env, "verify-bundle", str(bundle), "--pubkey", pubkey, "--witness-key", witness_key
    )
    assert checked.exit_code == 0, checked.stderr
    result = last(checked)
    assert result["tree_size"] == 6  # the witnessed head, not the newer unwitnessed one
    assert [c["witness_key"] for c in result["cosigned_by"]] == [witness_key]

    refused = audit(
        env, "verify-bundle", str(unwitnessed), "--pubkey", pubkey, "--witness-key", witness_key
    )
    assert refused.exit_code == 2
    assert "no valid cosignature by witness parcelguard-witness" in refused.stderr
