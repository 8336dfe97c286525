"""The log keeps only cosignatures that verify, and bundles carry them (both backends)."""

import json
from datetime import UTC, datetime

import pytest

from parcelguard.admin import log_signer
from parcelguard.audit.checkpoint import Checkpoint, Cosigner
from parcelguard.audit.evidence import verify_bundle
from parcelguard.audit.log import AuditLog
from parcelguard.config import Settings
from parcelguard.core.errors import BadInput
from tests.audit.test_log import entries, log

__all__ = ["log"]

NOW = datetime(2016, 10, 4, tzinfo=UTC)


def test_a_verified_cosignature_is_kept_and_bundled(log: AuditLog, settings: Settings) -> None:
    signer = log_signer(settings)
    log.checkpoint(signer, settings.log_origin, NOW)
    witness = Cosigner.generate("witness.example")
    head = log.head()
    line = witness.cosign(Checkpoint(settings.log_origin, head.tree_size, head.root_hash), 1_700)
    assert log.add_cosignature(head.tree_size, line, witness.verifier_key()) == 1_700
    log.append(entries(4, offset=head.tree_size))

    bundle = json.dumps(log.bundle([3, 50], signer, settings.log_origin, NOW))
    evidence = verify_bundle(
        bundle, signer.verifier().verifier_key(), witness_keys=[witness.verifier_key()]
    )
    assert evidence.tree_size == head.tree_size
    assert evidence.cosigned_by == [(witness.verifier_key(), 1_700)]
    other = Cosigner.generate("other.example")
    with pytest.raises(BadInput, match=r"no valid cosignature by witness other\.example"):
        verify_bundle(bundle, signer.verifier().verifier_key(), witness_keys=[other.verifier_key()])


def test_an_entry_newer_than_every_witnessed_head_gets_a_fresh_unwitnessed_checkpoint(
    log: AuditLog, settings: Settings
) -> None:
    signer = log_signer(settings)
    log.checkpoint(signer, settings.log_origin, NOW)
    head = log.head()
    witness = Cosigner.generate("witness.example")
    line = witness.cosign(Checkpoint(settings.log_origin, head.tree_size, head.root_hash), 5)
    log.add_cosignature(head.tree_size, line, witness.verifier_key())
    log.append(entries(2, offset=head.tree_size))

    bundle = json.dumps(log.bundle([head.tree_size + 1], signer, settings.log_origin, NOW))
    evidence = verify_bundle(bundle, signer.verifier().verifier_key())
    assert evidence.tree_size == head.tree_size + 2
    assert evidence.witnesses == []


def test_cosignatures_that_do_not_verify_are_refused(log: AuditLog, settings: Settings) -> None:
    signer = log_signer(settings)
    log.checkpoint(signer, settings.log_origin, NOW)
    head = log.head()
    witness = Cosigner.generate("witness.example")
    wrong_root = witness.cosign(Checkpoint(settings.log_origin, head.tree_size, b"\x07" * 32), 5)
    with pytest.raises(BadInput, match="does not verify for this checkpoint"):
        log.add_cosignature(head.tree_size, wrong_root, witness.verifier_key())
    good = witness.cosign(Checkpoint(settings.log_origin, head.tree_size, head.root_hash), 5)
    with pytest.raises(BadInput, match="tree size 7: the log signed no checkpoint"):
        log.add_cosignature(7, good, witness.verifier_key())
    with pytest.raises(BadInput, match="witness key"):
        log.add_cosignature(head.tree_size, good, "not-a-key")
    assert log.cosigned_note(head.tree_size) == log.checkpoint(signer, settings.log_origin, NOW)
