"""Full verification of the stored audit log, streaming, in bounded memory.

Why streaming: the log reaches tens of millions of entries and must verify in under a minute
on one machine, so it is read in aligned chunks of 2**16 leaves. A chunk's leaves are hashed
from the entry bytes, every level of complete subtrees inside the chunk is rebuilt and compared
with the stored level in one list comparison, and the chunk roots are folded into the levels
above. Nothing of the tree is kept beyond the chunk and log2(n) carried hashes.

What is checked, and the first failing index is named for each:

* every sequence number is present once, in order (a gap is a deleted entry);
* every entry has the frame of :mod:`parcelguard.audit.entry` (version, twelve length-prefixed
  fields, nothing after) and carries its own index (a mismatch is an entry moved or swapped);
  the character rules of the text fields are enforced when entries are written, and any later
  change to an entry's bytes changes its leaf hash, which is checked next;
* every stored subtree hash, leaves included, equals the one recomputed from the entries;
* no stored hash lies beyond the entries (a truncated log);
* with the log's verifier key, every stored signed checkpoint verifies and carries the root
  recomputed for its size, so a history rewritten consistently under a published checkpoint
  is caught too (the witness catches it even when the checkpoints are deleted).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa

from parcelguard.audit import merkle
from parcelguard.audit.checkpoint import CheckpointError, open_checkpoint
from parcelguard.audit.entry import TEXT_FIELDS, VERSION, EntryError, decode_entry
from parcelguard.audit.note import NoteError, Verifier
from parcelguard.audit.stored import StoredHashes
from parcelguard.storage.bulk import marker

CHUNK_LEVEL: Final = 16
"""Leaves are verified in aligned chunks of 2**16: 65,536 entries, a few MiB at a time."""

_CHUNK: Final = 1 << CHUNK_LEVEL
_HEADER_SIZE: Final = 17  # version, sequence, time (see parcelguard.audit.entry)
_FIELDS: Final = len(TEXT_FIELDS)


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome: the verified size and root, or the first index that fails and why.

    On failure ``tree_size`` is that index and ``root_hash`` the root of the good prefix
    before it, so an operator knows what is still sound.
    """

    tree_size: int
    root_hash: bytes
    first_bad_index: int | None
    reason: str | None

    @property
    def ok(self) -> bool:
        return self.first_bad_index is None and self.reason is None


class _Failure(Exception):
    def __init__(self, index: int, reason: str) -> None:
        super().__init__(reason)
        self.index = index
        self.reason = reason


def verify_store(
    conn: sa.Connection, verifier: Verifier | None, chunk_level: int = CHUNK_LEVEL
) -> Verification:
    """Verify the log in the store behind ``conn`` (one read transaction, please).

    ``chunk_level`` only trades memory for queries; tests lower it to cross chunk borders.
    """
    chunk = 1 << chunk_level
    cursor = conn.connection.cursor()
    mark = marker(conn)
    last = conn.exec_driver_sql("SELECT MAX(seq) FROM audit_entries").scalar()
    size = 0 if last is None else int(last) + 1
    upper = merkle.MemoryHashes()  # the tree of chunk roots: levels >= CHUNK_LEVEL
    try:
        for start in range(0, size, chunk):
            end = min(start + chunk, size)
            entries = _read_entries(cursor, mark, start, end)
            levels = _rebuild_chunk(entries)
            _compare_chunk(cursor, mark, start, levels)
            if end - start == chunk:
                for level, idx, value in upper.append([levels[chunk_level][0]]):
                    if level:
                        _compare_upper(conn, level + chunk_level, idx, value)
        _no_hashes_beyond(cursor, mark, size)
        root = merkle.root(StoredHashes(conn), size)  # every hash read here was just checked
        if verifier is not None:
            _check_checkpoints(conn, verifier, size)
    except _Failure as failure:
        return Verification(
            failure.index, _prefix_root(conn, failure.index), failure.index, failure.reason
        )
    return Verification(size, root, None, None)


def _read_entries(cursor: Any, mark: str, start: int, end: int) -> list[bytes]:
    cursor.execute(
        f"SELECT seq, entry FROM audit_entries WHERE seq >= {mark} AND seq < {mark} "  # noqa: S608
        "ORDER BY seq",
        (start, end),
    )
    rows = cursor.fetchall()
    if len(rows) != end - start:
        for expected, (seq, _) in enumerate(rows, start=start):
            if seq != expected:
                raise _Failure(expected, "entry missing (deleted?)")
        raise _Failure(start + len(rows), "entry missing (deleted?)")
    entries = [bytes(data) for _, data in rows]
    for index, data in enumerate(entries, start=start):
        if not _framed(data):
            try:
                decode_entry(data)
            except EntryError as exc:
                raise _Failure(index, f"entry unreadable ({exc})") from None
            raise _Failure(index, "entry unreadable")
        if int.from_bytes(data[1:9], "big") != index:
            raise _Failure(index, "entry moved from another index")
    return entries


def _framed(data: bytes) -> bool:
    """Version byte, twelve length-prefixed fields and nothing after: the entry's frame."""
    if len(data) < _HEADER_SIZE + _FIELDS or data[0] != VERSION:
        return False
    offset = _HEADER_SIZE
    try:
        for _ in range(_FIELDS):
            offset += 1 + data[offset]
    except IndexError:
        return False
    return offset == len(data)


def _rebuild_chunk(entries: list[bytes]) -> list[list[bytes]]:
    """Leaf hashes and every complete level above them inside one aligned chunk."""
    sha = hashlib.sha256
    layer = [sha(b"\x00" + data).digest() for data in entries]
    levels = [layer]
    while len(layer) > 1:
        layer = [
            sha(b"\x01" + layer[i] + layer[i + 1]).digest() for i in range(0, len(layer) - 1, 2)
        ]
        levels.append(layer)
    return levels


def _compare_chunk(cursor: Any, mark: str, start: int, levels: list[list[bytes]]) -> None:
    """Compare each rebuilt level with the stored one; the failure nearest leaf 0 wins."""
    failures: list[_Failure] = []
    for level, expected in enumerate(levels):
        first = start >> level
        cursor.execute(
            f"SELECT idx, hash FROM audit_nodes WHERE level = {mark} "  # noqa: S608
            f"AND idx >= {mark} AND idx < {mark} ORDER BY idx",
            (level, first, first + len(expected)),
        )
        rows = cursor.fetchall()
        stored = [bytes(value) for _, value in rows]
        if len(rows) == len(expected) and stored == expected:
            continue
        indices = [int(idx) for idx, _ in rows]
        for position, value in enumerate(expected):
            if position >= len(rows) or indices[position] != first + position:
                failures.append(
                    _Failure(
                        (first + position) << level,
                        f"subtree hash at level {level}, index {first + position} is missing",
                    )
                )
                break
            if stored[position] != value:
                failures.append(
                    _Failure((first + position) << level, f"subtree hash at level {level} differs")
                )
                break
    if failures:
        raise min(failures, key=lambda failure: failure.index)


def _compare_upper(conn: sa.Connection, level: int, idx: int, value: bytes) -> None:
    stored = conn.execute(
        sa.text("SELECT hash FROM audit_nodes WHERE level = :level AND idx = :idx"),
        {"level": level, "idx": idx},
    ).scalar()
    if stored is None:
        raise _Failure(idx << level, f"subtree hash at level {level}, index {idx} is missing")
    if bytes(stored) != value:
        raise _Failure(idx << level, f"subtree hash at level {level} differs")


def _no_hashes_beyond(cursor: Any, mark: str, size: int) -> None:
    """A stored subtree past the last entry means entries were cut off the end."""
    for level in range(64):
        cursor.execute(
            f"SELECT MIN(idx) FROM audit_nodes WHERE level = {mark} AND idx >= {mark}",  # noqa: S608
            (level, size >> level),
        )
        (beyond,) = cursor.fetchone()
        if beyond is not None:
            raise _Failure(size, "stored hashes beyond the last entry (truncated?)")


def _check_checkpoints(conn: sa.Connection, verifier: Verifier, size: int) -> None:
    reader = StoredHashes(conn)
    good = 0
    notes = conn.exec_driver_sql(
        "SELECT tree_size, note FROM audit_checkpoints ORDER BY tree_size"
    ).all()
    for tree_size, note in notes:
        try:
            checkpoint = open_checkpoint(str(note), verifier)[0]
        except (CheckpointError, NoteError) as exc:
            raise _Failure(
                good, f"the stored checkpoint of size {tree_size} does not verify ({exc})"
            ) from None
        if checkpoint.size != int(tree_size):
            raise _Failure(
                good, f"the stored checkpoint of size {tree_size} signs size {checkpoint.size}"
            )
        if checkpoint.size > size:
            raise _Failure(
                size,
                f"a signed checkpoint covers {checkpoint.size} entries but the log holds {size} "
                "(truncated?)",
            )
        if checkpoint.size and merkle.root(reader, checkpoint.size) != checkpoint.root_hash:
            raise _Failure(
                good,
                f"the signed checkpoint of size {checkpoint.size} has another root: entries in "
                f"[{good}, {checkpoint.size}) were rewritten after it was signed",
            )
        good = checkpoint.size


def _prefix_root(conn: sa.Connection, index: int) -> bytes:
    """Root of the entries before ``index``, recomputed from their bytes alone."""
    if index == 0:
        return merkle.EMPTY_ROOT
    rows = conn.execution_options(yield_per=_CHUNK).exec_driver_sql(
        f"SELECT entry FROM audit_entries WHERE seq < {marker(conn)} ORDER BY seq",  # noqa: S608
        (index,),
    )
    return merkle.root_from_leaves(merkle.leaf_hash(bytes(data)) for (data,) in rows)
