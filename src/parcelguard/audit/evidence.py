"""Evidence bundles: entries, their inclusion proofs and a signed checkpoint, in one file.

An investigator or a court checks a bundle offline with :func:`verify_bundle` and the log's
published verifier key alone: no database, no trust in the carrier. The checkpoint note
carries the cosignature lines (C2SP tlog-cosignature) of the witnesses that saw that tree
head; given their keys, the verifier requires and checks them, which shows the carrier did
not make up the tree for the occasion. The format is JSON so it can be read by eye and
re-checked in any language:

    {"format": "parcelguard-evidence/v1", "checkpoint": "<signed note>",
     "entries": [{"index": 5, "entry": "<base64 of the leaf bytes>",
                  "inclusion_path": ["<hex>", ...]}, ...]}
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from parcelguard.audit import merkle
from parcelguard.audit.checkpoint import (
    Checkpoint,
    CheckpointError,
    CosignatureVerifier,
    open_checkpoint,
)
from parcelguard.audit.entry import AuditEntry, EntryError, decode_entry
from parcelguard.audit.note import NoteError, Verifier
from parcelguard.core.errors import BadInput

FORMAT = "parcelguard-evidence/v1"


@dataclass(frozen=True, slots=True)
class VerifiedEvidence:
    origin: str
    tree_size: int
    root_hash: bytes
    entries: list[AuditEntry]
    witnesses: list[str]  # names on signature lines other than the log's, checked or not
    cosigned_by: list[tuple[str, int]]  # (witness verifier key, POSIX time) checked here


def build_bundle(checkpoint_note: str, proofs: list[dict[str, object]]) -> dict[str, object]:
    return {
        "format": FORMAT,
        "checkpoint": checkpoint_note,
        "entries": [
            {
                "index": proof["index"],
                "entry": base64.b64encode(proof["entry"]).decode("ascii"),  # type: ignore[arg-type]
                "inclusion_path": [h.hex() for h in proof["inclusion_path"]],  # type: ignore[attr-defined]
            }
            for proof in proofs
        ],
    }


def verify_bundle(
    text: str,
    verifier_key: str,
    origin: str | None = None,
    witness_keys: Sequence[str] = (),
) -> VerifiedEvidence:
    """Check every signature and proof of a bundle; raise :class:`BadInput` saying what fails.

    Every key in ``witness_keys`` must have cosigned the bundle's checkpoint.
    """
    try:
        bundle: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"bundle: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        raise BadInput(f"bundle: not a {FORMAT} bundle")
    try:
        verifier = Verifier.from_key(verifier_key)
        checkpoint, opened = open_checkpoint(
            str(bundle.get("checkpoint", "")), verifier, origin=origin
        )
    except (NoteError, CheckpointError) as exc:
        raise BadInput(f"bundle checkpoint: {exc}") from None
    cosigned_by = [
        (key, _check_cosignature(key, opened.unknown, opened.unknown_lines, checkpoint))
        for key in witness_keys
    ]
    items = bundle.get("entries")
    if not isinstance(items, list) or not items:
        raise BadInput("bundle: holds no entries")
    entries = []
    for position, item in enumerate(items, start=1):
        where = f"bundle entry #{position}"
        try:
            index = int(item["index"])
            data = base64.b64decode(item["entry"], validate=True)
            path = [bytes.fromhex(h) for h in item["inclusion_path"]]
        except (KeyError, TypeError, ValueError, binascii.Error):
            raise BadInput(f"{where}: malformed (needs index, entry, inclusion_path)") from None
        if not 0 <= index < checkpoint.size:
            raise BadInput(f"{where}: index {index} is outside the tree of {checkpoint.size}")
        if not merkle.verify_inclusion(
            merkle.leaf_hash(data), index, checkpoint.size, path, checkpoint.root_hash
        ):
            raise BadInput(f"{where}: index {index} is not in the signed tree (altered?)")
        try:
            entry = decode_entry(data)
        except EntryError as exc:
            raise BadInput(f"{where}: {exc}") from None
        if entry.sequence != index:
            raise BadInput(f"{where}: entry says sequence {entry.sequence}, proof says {index}")
        entries.append(entry)
    return VerifiedEvidence(
        checkpoint.origin,
        checkpoint.size,
        checkpoint.root_hash,
        entries,
        [name for name, _ in opened.unknown],
        cosigned_by,
    )


def _check_cosignature(
    key: str, names: Sequence[tuple[str, int]], lines: Sequence[str], checkpoint: Checkpoint
) -> int:
    try:
        witness = CosignatureVerifier.from_key(key)
    except NoteError as exc:
        raise BadInput(f"--witness-key {key[:40]}: {exc}") from None
    problems = []
    for (name, key_hash), line in zip(names, lines, strict=True):
        if (name, key_hash) != (witness.name, witness.key_hash):
            continue
        try:
            return witness.verify(line, checkpoint)
        except CheckpointError as exc:
            problems.append(str(exc))
    detail = f": {problems[0]}" if problems else ""
    raise BadInput(f"bundle checkpoint: no valid cosignature by witness {witness.name}{detail}")
