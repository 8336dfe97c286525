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
