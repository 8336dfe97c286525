"""Evidence bundles: written from the store, checked offline with the public key alone."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from parcelguard.admin import open_audit_log
from parcelguard.cli import app
from parcelguard.config import Settings
from tests.audit.test_log import entries

runner = CliRunner()


@pytest.fixture
def bundle(env: dict[str, str], settings: Settings, tmp_path: Path) -> tuple[Path, str]:
    open_audit_log(settings).append(entries(23))
    out = tmp_path / "evidence.json"
    made = runner.invoke(
        app, ["audit", "bundle", "--entries", "2,13,22", "--out", str(out), "--json"], env=env
    )
    assert made.exit_code == 0, made.stderr
    key = runner.invoke(app, ["audit", "pubkey"], env=env).stdout.strip()
    return out, key


def verify(path: Path, key: str):
    # No store at all: an investigator's machine.
    return runner.invoke(
        app,
        ["audit", "verify-bundle", str(path), "--pubkey", key, "--json"],
        env={"PARCELGUARD_DB": "postgresql+psycopg://nobody@127.0.0.1:1/none"},
    )


def test_a_bundle_verifies_offline(bundle: tuple[Path, str]) -> None:
    path, key = bundle
    result = verify(path, key)
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["verified"] is True
    assert report["tree_size"] == 23
    assert [e["index"] for e in report["entries"]] == [2, 13, 22]
    assert report["entries"][0]["waybill_no"] == "PG316508274415"


def test_the_key_may_come_from_a_file(bundle: tuple[Path, str], tmp_path: Path) -> None:
    path, key = bundle
    (tmp_path / "log.pub").write_text(key + "\n")
    assert verify(path, str(tmp_path / "log.pub")).exit_code == 0


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (
            lambda b: b["entries"][1].update(entry=b["entries"][0]["entry"]),
            "bundle entry #2: index 13 is not in the signed tree",
        ),
        (
            lambda b: b.update(checkpoint=b["checkpoint"].replace("\n23\n", "\n24\n")),
            "bundle checkpoint",
        ),
        (
            lambda b: b["entries"][2].update(index=21),
            "bundle entry #3: index 21 is not in the signed tree",
        ),
        (lambda b: b.update(entries=[]), "bundle: holds no entries"),
    ],
)
def test_an_altered_bundle_is_refused(bundle: tuple[Path, str], mangle, message: str) -> None:
    path, key = bundle
    data = json.loads(path.read_text())
    mangle(data)
    path.write_text(json.dumps(data))
    result = verify(path, key)
    assert result.exit_code == 2
    assert message in result.stderr


def test_another_logs_key_is_refused(bundle: tuple[Path, str]) -> None:
    from parcelguard.audit.note import Signer

    path, _ = bundle
    other = Signer.generate("parcelguard.local/audit").verifier_key()
    result = verify(path, other)
    assert result.exit_code == 2
    assert "bundle checkpoint" in result.stderr
