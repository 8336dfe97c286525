"""The audit log in the store (both backends): appends, proofs, and tampering caught."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from parcelguard.admin import open_audit_log
from parcelguard.audit import merkle
from parcelguard.audit.entry import AuditEntry, decode_entry
from parcelguard.audit.log import AuditLog, LogIntegrityError
from parcelguard.config import Settings
from parcelguard.core.errors import BadInput
from parcelguard.storage.schema import audit_entries, audit_nodes

START = datetime(2016, 10, 3, 9, 0, tzinfo=UTC)


def entries(n: int, offset: int = 0) -> list[AuditEntry]:
    return [
        AuditEntry.at(
            0,
            START + timedelta(seconds=offset + i),
            actor=f"E{(offset + i) % 17:06d}",
            action="reveal",
            waybill_no=f"PG{316508274413 + offset + i:012d}",
            field="phone",
            purpose="delivery",
            decision="allow" if (offset + i) % 5 else "deny",
            reason="assigned",
            channel="handheld",
        )
        for i in range(n)
    ]


@pytest.fixture
def log(settings: Settings) -> AuditLog:
    log = open_audit_log(settings)
    for batch in (1, 2, 5, 13, 30):  # uneven batches cross many subtree boundaries
        log.append(entries(batch, offset=log.head().tree_size))
    return log


def test_appends_number_entries_and_the_head_is_the_merkle_root(log: AuditLog) -> None:
    head = log.head()
    assert head.tree_size == 51
    with log.engine.connect() as conn:
        stored = [
            bytes(r.entry)
            for r in conn.execute(sa.select(audit_entries.c.entry).order_by(audit_entries.c.seq))
        ]
    assert [decode_entry(b).sequence for b in stored] == list(range(51))
    assert head.root_hash == merkle.root_from_leaves([merkle.leaf_hash(b) for b in stored])


def test_every_inclusion_and_consistency_proof_verifies(log: AuditLog) -> None:
    for size in (1, 7, 8, 33, 51):
        for index in range(size):
            proof = log.prove(index, size)
            assert merkle.verify_inclusion(
                merkle.leaf_hash(proof["entry"]),
                index,
                size,
                proof["inclusion_path"],
                proof["root_hash"],  # type: ignore[arg-type]
            )
    for first in (1, 3, 8, 20, 51):
        result = log.consistency(first, 51)
        assert merkle.verify_consistency(
            first,
            51,
            result["first_root"],
            result["second_root"],
            result["proof"],  # type: ignore[arg-type]
        )


def test_impossible_proof_requests_are_bad_input(log: AuditLog) -> None:
    with pytest.raises(BadInput, match="need 0 <= index < size <= 51"):
        log.prove(51, 51)
    with pytest.raises(BadInput, match="need 0 < from <= to <= 51"):
        log.consistency(10, 52)


def test_an_untouched_log_verifies(log: AuditLog) -> None:
    result = log.verify()
    assert result.ok
    assert result.tree_size == 51
    assert result.root_hash == log.head().root_hash


def tamper(log: AuditLog, *statements: sa.Executable) -> None:
    with log.engine.begin() as conn:
        for statement in statements:
            conn.execute(statement)


def test_a_changed_entry_is_named(log: AuditLog) -> None:
    original = log.entry(20)
    forged = original.replace(b"allow", b"deny_") if b"allow" in original else original[:-1] + b"X"
    tamper(log, audit_entries.update().where(audit_entries.c.seq == 20).values(entry=forged))
    result = log.verify()
    assert result.first_bad_index == 20
    assert result.reason is not None


def test_a_deleted_entry_is_named(log: AuditLog) -> None:
    tamper(log, audit_entries.delete().where(audit_entries.c.seq == 9))
    result = log.verify()
    assert result.first_bad_index == 9
    assert "missing" in (result.reason or "")


def test_two_swapped_entries_are_named(log: AuditLog) -> None:
    a, b = log.entry(11), log.entry(30)
    tamper(
        log,
        audit_entries.update().where(audit_entries.c.seq == 11).values(entry=b),
        audit_entries.update().where(audit_entries.c.seq == 30).values(entry=a),
    )
    result = log.verify()
    assert result.first_bad_index == 11
    assert "moved" in (result.reason or "")


def test_a_truncated_log_is_caught(log: AuditLog) -> None:
    tamper(log, audit_entries.delete().where(audit_entries.c.seq >= 40))
    result = log.verify()
    assert not result.ok
    assert result.first_bad_index is not None
    assert result.first_bad_index <= 40


def test_a_changed_subtree_hash_is_caught_by_proofs_and_verify(log: AuditLog) -> None:
    tamper(
        log,
        audit_nodes.update()
        .where(audit_nodes.c.level == 2, audit_nodes.c.idx == 3)
        .values(hash=b"\x00" * 32),
    )
    assert log.verify().first_bad_index == 12
    tamper(log, audit_nodes.delete().where(audit_nodes.c.level == 0, audit_nodes.c.idx == 50))
    with pytest.raises(LogIntegrityError, match="level 0, index 50 is missing"):
        log.prove(50, 51)


def test_personal_data_cannot_be_appended(settings: Settings) -> None:
    log = open_audit_log(settings)
    bad = AuditEntry.at(0, START, actor="E1", action="reveal", waybill_no="13812345678")
    with pytest.raises(BadInput, match="audit entry #1: waybill_no looks like a phone number"):
        log.append([bad])
    assert log.head().tree_size == 0
