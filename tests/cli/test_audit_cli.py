"""``parcelguard audit``: the JSON contract of head, prove, consistency and verify."""

import base64
import json

from typer.testing import CliRunner

from parcelguard.admin import open_audit_log
from parcelguard.audit import merkle
from parcelguard.cli import app
from parcelguard.config import Settings
from tests.audit.test_log import entries

runner = CliRunner()


def run(env: dict[str, str], *args: str) -> dict[str, object]:
    result = runner.invoke(app, ["audit", *args, "--json"], env=env)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_head_prove_consistency_verify(env: dict[str, str], settings: Settings) -> None:
    log = open_audit_log(settings)
    log.append(entries(12))
    head = run(env, "head")
    assert head["tree_size"] == 12
    proof = run(env, "prove", "--index", "5", "--size", "12")
    assert set(proof) >= {"index", "tree_size", "entry", "leaf_hash", "inclusion_path", "root_hash"}
    leaf = merkle.leaf_hash(base64.b64decode(proof["entry"]))  # type: ignore[arg-type]
    assert leaf.hex() == proof["leaf_hash"]
    path = [bytes.fromhex(h) for h in proof["inclusion_path"]]  # type: ignore[union-attr]
    assert merkle.verify_inclusion(leaf, 5, 12, path, bytes.fromhex(head["root_hash"]))  # type: ignore[arg-type]
    consistency = run(env, "consistency", "--from", "4", "--to", "12")
    assert consistency["second_root"] == head["root_hash"]
    assert run(env, "verify")["verified"] is True


def test_a_proof_beyond_the_log_is_bad_input(env: dict[str, str], settings: Settings) -> None:
    open_audit_log(settings).append(entries(3))
    result = runner.invoke(app, ["audit", "prove", "--index", "3", "--size", "3"], env=env)
    assert result.exit_code == 2
    assert "need 0 <= index < size <= 3" in result.stderr


def test_head_carries_a_checkpoint_signed_by_the_published_key(
    env: dict[str, str], settings: Settings
) -> None:
    from parcelguard.audit.checkpoint import open_checkpoint
    from parcelguard.audit.note import Verifier

    open_audit_log(settings).append(entries(7))
    head = run(env, "head")
    key = run(env, "pubkey")["verifier_key"]
    assert str(key).startswith("parcelguard.local/audit+")
    checkpoint, opened = open_checkpoint(str(head["checkpoint"]), Verifier.from_key(str(key)))
    assert checkpoint.size == 7
    assert checkpoint.root_hash.hex() == head["root_hash"]
    assert opened.verified_by == ["parcelguard.local/audit"]
    assert run(env, "head")["checkpoint"] == head["checkpoint"]  # one note per size


def test_a_history_rewritten_under_a_signed_checkpoint_is_refused(
    env: dict[str, str], settings: Settings
) -> None:
    import sqlalchemy as sa

    from parcelguard.storage.schema import audit_checkpoints

    log = open_audit_log(settings)
    log.append(entries(4))
    run(env, "head")
    with log.engine.begin() as conn:  # an administrator re-writes the stored root
        conn.execute(sa.update(audit_checkpoints).values(root_hash=b"\x01" * 32))
    result = runner.invoke(app, ["audit", "head", "--json"], env=env)
    assert result.exit_code == 1
    assert "the log has been rewritten" in result.stderr


def test_the_log_key_lives_in_its_own_file(settings: Settings) -> None:
    import os
    import stat

    assert stat.S_IMODE(os.stat(settings.log_key_file).st_mode) == 0o600
    assert settings.log_key_file.read_text().startswith("PRIVATE+KEY+parcelguard.local/audit+")


def test_verify_checks_the_signed_checkpoints_with_the_published_key(
    env: dict[str, str], settings: Settings
) -> None:
    from parcelguard.audit.tamper import rewrite_entry

    log = open_audit_log(settings)
    log.append(entries(12))
    run(env, "head")  # signs a checkpoint of size 12
    rewrite_entry(log.engine, 4, keep_checkpoints=True, reason="forged")
    result = runner.invoke(app, ["audit", "verify", "--json"], env=env)
    assert result.exit_code == 1
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["checkpoints_checked"] is True
    assert outcome["verified"] is False
    assert "checkpoint of size 12 has another root" in outcome["reason"]
