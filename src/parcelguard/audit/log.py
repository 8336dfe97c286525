"""The audit log in the store: append entries, answer heads and proofs, verify everything.

Entries and the hashes of every complete subtree are written in the same transaction as each
other, so the log is never half-appended; an append returns only after its transaction has
committed (SQLite ``synchronous=FULL``, PostgreSQL's fsync), which is what "acknowledged"
means. A proof reads the O(log n) subtree hashes it needs in one query and never rebuilds the
tree. :meth:`AuditLog.verify` recomputes every leaf and every stored subtree from the entry
bytes alone and names the first index that does not match.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from parcelguard.audit import merkle
from parcelguard.audit.checkpoint import (
    Checkpoint,
    CheckpointError,
    CosignatureVerifier,
    open_checkpoint,
    parse_checkpoint,
    sign_checkpoint,
)
from parcelguard.audit.entry import (
    AuditEntry,
    EncodedEntry,
    EntryError,
    prepare_entry,
)
from parcelguard.audit.evidence import build_bundle
from parcelguard.audit.note import NoteError, Signer, Verifier, add_signatures
from parcelguard.audit.stored import LogIntegrityError, StoredHashes, UpperHashCache
from parcelguard.audit.verify import Verification, verify_store
from parcelguard.core.errors import BadInput, StoreUnavailable
from parcelguard.storage import begin_write
from parcelguard.storage.bulk import driver_rows, insert_rows, insert_sql
from parcelguard.storage.schema import (
    audit_checkpoints,
    audit_cosignatures,
    audit_entries,
    audit_nodes,
)

_APPEND_LOCK = 0x5047_4155_4449_54  # "PGAUDIT": the advisory lock of the log's appenders


def encode_all(entries: Sequence[AuditEntry]) -> list[EncodedEntry]:
    """Check and encode entries before any transaction; BadInput names the first bad one."""
    encoded = []
    for number, entry in enumerate(entries, start=1):
        try:
            encoded.append(prepare_entry(entry))
        except EntryError as exc:
            raise BadInput(f"audit entry #{number}: {exc}") from None
    return encoded


@dataclass(frozen=True, slots=True)
class Head:
    tree_size: int
    root_hash: bytes


class AuditLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._upper = UpperHashCache()

    @staticmethod
    def _size(conn: sa.Connection) -> int:
        # Driver-level: on every append, and the Core statement's per-call overhead cost more
        # than SQLite's answer from the primary key (measured: bench/http_reveal.py).
        ((last,),) = driver_rows(conn, "SELECT max(seq) FROM audit_entries")
        return 0 if last is None else int(last) + 1

    def append(self, entries: Sequence[AuditEntry]) -> list[int]:
        """Append ``entries`` (their ``sequence`` is assigned here); their indices, once durable."""
        return self.append_encoded(encode_all(entries))

    def append_encoded(self, entries: Sequence[EncodedEntry]) -> list[int]:
        """Append entries already checked by :func:`prepare_entry`, in one transaction."""
        if not entries:
            return []
        try:
            return self._append(entries)
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "no answer"
            if "full" in reason.lower():
                raise StoreUnavailable(
                    "the audit log's store is full; nothing of this batch was written"
                ) from None
            raise StoreUnavailable(f"the audit log cannot be written ({reason})") from None

    def _append(self, entries: Sequence[EncodedEntry]) -> list[int]:
        with begin_write(self.engine) as conn:
            if conn.dialect.name == "postgresql":
                # Writers in other processes (a second server, the CLI) must take turns: each
                # reads the size and appends after it. SQLite's BEGIN IMMEDIATE does this.
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_APPEND_LOCK})")
            size = self._size(conn)
            encoded = [entry.at(size + offset) for offset, entry in enumerate(entries)]
            leaves = [merkle.leaf_hash(data) for data in encoded]
            nodes = merkle.append_hashes(size, leaves, StoredHashes(conn))
            insert_rows(
                conn,
                insert_sql(conn, audit_entries, ("seq", "entry")),
                list(zip(range(size, size + len(encoded)), encoded, strict=True)),
            )
            insert_rows(conn, insert_sql(conn, audit_nodes, ("level", "idx", "hash")), nodes)
        return list(range(size, size + len(entries)))

    def checkpoint(self, signer: Signer, origin: str, now: datetime) -> str:
        """A signed checkpoint of the current head, stored so that it is published once.

        If a checkpoint of the same size was signed before with another root, the history has
        been rewritten under it: that is refused loudly, never re-signed.
        """
        head = self.head()
        with begin_write(self.engine) as conn:
            stored = conn.execute(
                sa.select(audit_checkpoints.c.root_hash, audit_checkpoints.c.note).where(
                    audit_checkpoints.c.tree_size == head.tree_size
                )
            ).first()
            if stored is not None:
                if bytes(stored.root_hash) != head.root_hash:
                    raise LogIntegrityError(
                        f"a checkpoint of size {head.tree_size} was signed with another root: "
                        "the log has been rewritten"
                    )
                return str(stored.note)
            note = sign_checkpoint(signer, Checkpoint(origin, head.tree_size, head.root_hash))
            conn.execute(
                audit_checkpoints.insert().values(
                    tree_size=head.tree_size, root_hash=head.root_hash, note=note, created_at=now
                )
            )
        return note

    def add_cosignature(self, tree_size: int, line: str, witness_key: str) -> int:
        """Keep a witness's cosignature of the stored checkpoint of ``tree_size``.

        The line is verified against that checkpoint with the witness's key before it is
        stored, so the table never holds a cosignature that would fail in a bundle. A newer
        cosignature by the same witness replaces the older one. Returns its timestamp.
        """
        try:
            verifier = CosignatureVerifier.from_key(witness_key)
        except NoteError as exc:
            raise BadInput(f"witness key: {exc}") from None
        with begin_write(self.engine) as conn:
            note = conn.execute(
                sa.select(audit_checkpoints.c.note).where(
                    audit_checkpoints.c.tree_size == tree_size
                )
            ).scalar()
            if note is None:
                raise BadInput(f"tree size {tree_size}: the log signed no checkpoint of that size")
            try:
                timestamp = verifier.verify(line, _checkpoint_of(str(note)))
            except CheckpointError as exc:
                raise BadInput(f"cosignature of tree size {tree_size}: {exc}") from None
            key = verifier.verifier_key()
            conn.execute(
                audit_cosignatures.delete().where(
                    audit_cosignatures.c.tree_size == tree_size,
                    audit_cosignatures.c.witness_key == key,
                )
            )
            conn.execute(
                audit_cosignatures.insert().values(
                    tree_size=tree_size, witness_key=key, line=line, cosigned_at=timestamp
                )
            )
        return timestamp

    def cosigned_note(self, tree_size: int) -> str | None:
        """The stored checkpoint of ``tree_size`` with every witness cosignature appended."""
        with self.engine.connect() as conn:
            note = conn.execute(
                sa.select(audit_checkpoints.c.note).where(
                    audit_checkpoints.c.tree_size == tree_size
                )
            ).scalar()
            lines = conn.execute(
                sa.select(audit_cosignatures.c.line)
                .where(audit_cosignatures.c.tree_size == tree_size)
                .order_by(audit_cosignatures.c.witness_key)
            ).scalars()
            return None if note is None else add_signatures(str(note), list(lines))

    def bundle(
        self, indices: Sequence[int], signer: Signer, origin: str, now: datetime
    ) -> dict[str, object]:
        """Evidence for ``indices``: their entries, proofs, and the best checkpoint for them.

        That is the newest witnessed checkpoint that covers every index, with its
        cosignatures, because a court trusts a tree head that parties outside the carrier
        have seen. When no witnessed checkpoint covers them yet, a fresh checkpoint is signed
        and the bundle says it is not witnessed.
        """
        if not indices:
            raise BadInput("--entries: name at least one index")
        with self.engine.connect() as conn:
            witnessed = conn.execute(
                sa.select(sa.func.max(audit_cosignatures.c.tree_size)).where(
                    audit_cosignatures.c.tree_size > max(indices)
                )
            ).scalar()
        if witnessed is None:
            note = self.checkpoint(signer, origin, now)
        else:
            note = self.cosigned_note(int(witnessed)) or ""
        size = open_checkpoint(note, signer.verifier())[0].size
        return build_bundle(note, [self.prove(index, size) for index in indices])

    def head(self) -> Head:
        with self.engine.connect() as conn:
            size = self._size(conn)
            return Head(size, merkle.root(StoredHashes(conn), size))

    def entry(self, index: int) -> bytes:
        with self.engine.connect() as conn:
            data = conn.execute(
                sa.select(audit_entries.c.entry).where(audit_entries.c.seq == index)
            ).scalar()
        if data is None:
            raise BadInput(f"--index {index}: the log has no such entry")
        return bytes(data)

    def prove(self, index: int, size: int) -> dict[str, object]:
        with self.engine.connect() as conn:
            current = self._size(conn)
            if not 0 <= index < size <= current:
                raise BadInput(
                    f"--index {index} --size {size}: need 0 <= index < size <= {current}"
                )
            # One read for the path, the root and the leaf: a proof costs three queries.
            held = merkle.MemoryHashes.of(
                merkle.proof_keys(index, size), StoredHashes(conn, self._upper)
            )
            entry = conn.execute(
                sa.select(audit_entries.c.entry).where(audit_entries.c.seq == index)
            ).scalar()
        if entry is None:
            raise LogIntegrityError(f"entry {index} is missing from the store")
        return {
            "index": index,
            "tree_size": size,
            "entry": bytes(entry),
            "leaf_hash": held.hashes([(0, index)])[0],
            "inclusion_path": merkle.inclusion_proof(held, index, size),
            "root_hash": merkle.root(held, size),
        }

    def consistency(self, first: int, second: int) -> dict[str, object]:
        with self.engine.connect() as conn:
            current = self._size(conn)
            if not 0 < first <= second <= current:
                raise BadInput(f"--from {first} --to {second}: need 0 < from <= to <= {current}")
            reader = StoredHashes(conn)
            return {
                "first_size": first,
                "second_size": second,
                "first_root": merkle.root(reader, first),
                "second_root": merkle.root(reader, second),
                "proof": merkle.consistency_proof(reader, first, second),
            }

    def verify(self, verifier: Verifier | None = None) -> Verification:
        """Recompute every hash from the entry bytes and compare it with the store.

        With the log's ``verifier`` the stored signed checkpoints are checked too: each must
        verify and carry the root recomputed for its size, which catches a history rewritten
        consistently (entries and hashes alike) under a checkpoint already published.
        """
        with self.engine.connect() as conn:
            if conn.dialect.name == "postgresql":  # one snapshot while appends go on
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                return verify_store(conn, verifier)


def _checkpoint_of(note: str) -> Checkpoint:
    """The checkpoint a stored note signs: its body ends at the first blank line."""
    body, separator, _ = note.partition("\n\n")
    if not separator:
        raise LogIntegrityError("a stored checkpoint note has no signature block")
    return parse_checkpoint(body + "\n")
