"""Full verification (both backends), across chunk borders, and against signed checkpoints."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from parcelguard.admin import log_signer
from parcelguard.audit.log import AuditLog
from parcelguard.audit.tamper import rewrite_entry
from parcelguard.audit.verify import Verification, verify_store
from parcelguard.config import Settings
from parcelguard.storage.schema import audit_entries, audit_nodes
from tests.audit.test_log import entries, log, tamper

__all__ = ["log"]  # the 51-entry fixture

NOW = datetime(2016, 10, 4, tzinfo=UTC)


def verify_in_chunks(log: AuditLog, chunk_level: int) -> Verification:
    with log.engine.connect() as conn, conn.begin():
        return verify_store(conn, None, chunk_level=chunk_level)


@pytest.mark.parametrize("chunk_level", [0, 1, 2, 3, 16])
def test_chunking_never_changes_the_answer(log: AuditLog, chunk_level: int) -> None:
    assert verify_in_chunks(log, chunk_level) == log.verify()
    assert log.verify().root_hash == log.head().root_hash
    tamper(
        log,
        audit_nodes.update()
        .where(audit_nodes.c.level == 4, audit_nodes.c.idx == 1)
        .values(hash=b"\x01" * 32),
    )
    result = verify_in_chunks(log, chunk_level)
    assert (result.first_bad_index, result.reason) == (16, "subtree hash at level 4 differs")


@pytest.mark.parametrize("chunk_level", [1, 3])
def test_a_missing_upper_hash_is_named(log: AuditLog, chunk_level: int) -> None:
    tamper(log, audit_nodes.delete().where(audit_nodes.c.level == 5, audit_nodes.c.idx == 0))
    result = verify_in_chunks(log, chunk_level)
    assert result.first_bad_index == 0
    assert result.reason == "subtree hash at level 5, index 0 is missing"


def test_a_failure_reports_the_root_of_the_good_prefix(log: AuditLog) -> None:
    good_root = log.consistency(20, 51)["first_root"]
    original = log.entry(20)
    tamper(
        log, audit_entries.update().where(audit_entries.c.seq == 20).values(entry=original + b"x")
    )
    result = log.verify()
    assert (result.tree_size, result.first_bad_index) == (20, 20)
    assert "unreadable" in (result.reason or "")
    assert result.root_hash == good_root


def test_hashes_left_beyond_a_truncation_are_caught(log: AuditLog) -> None:
    tamper(log, audit_entries.delete().where(audit_entries.c.seq == 50))
    result = log.verify()
    assert (result.first_bad_index, result.reason) == (
        50,
        "stored hashes beyond the last entry (truncated?)",
    )


def test_a_consistent_rewrite_under_a_signed_checkpoint_is_caught_with_the_key(
    log: AuditLog, settings: Settings
) -> None:
    signer = log_signer(settings)
    log.checkpoint(signer, settings.log_origin, NOW)
    log.append(entries(9, offset=51))
    log.checkpoint(signer, settings.log_origin, NOW)
    rewrite_entry(log.engine, 55, keep_checkpoints=True, reason="ticket")

    assert log.verify().ok  # entries and hashes agree with each other again
    result = log.verify(signer.verifier())
    assert not result.ok
    assert result.first_bad_index == 51
    assert "checkpoint of size 60 has another root" in (result.reason or "")
    assert "[51, 60)" in (result.reason or "")


def test_a_forged_checkpoint_row_does_not_verify(log: AuditLog, settings: Settings) -> None:
    signer = log_signer(settings)
    note = log.checkpoint(signer, settings.log_origin, NOW)
    with log.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE audit_checkpoints SET note = :note"),
            {"note": note.replace("\n51\n", "\n50\n")},
        )
    result = log.verify(signer.verifier())
    assert not result.ok
    assert "does not verify" in (result.reason or "")


def test_a_log_shorter_than_its_checkpoint_is_caught(log: AuditLog, settings: Settings) -> None:
    signer = log_signer(settings)
    log.checkpoint(signer, settings.log_origin, NOW)
    tamper(
        log,
        audit_entries.delete().where(audit_entries.c.seq >= 48),
        audit_nodes.delete().where(audit_nodes.c.idx >= 0),
    )
    result = log.verify(signer.verifier())
    assert not result.ok
