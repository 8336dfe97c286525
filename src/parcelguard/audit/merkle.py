"""The Merkle tree of RFC 9162 section 2.1 (the same tree as RFC 6962), kept as stored subtrees.

Why this shape: the audit log grows to tens of millions of entries, so it must never rebuild
its tree to answer a proof. It stores, for every *complete* subtree that exists, its hash under
``(level, index)``: level 0 holds the leaf hashes and node ``(L, i)`` covers the leaves
``[i * 2**L, (i + 1) * 2**L)``. A complete subtree never changes once it exists, so rows are
only ever inserted, in the same transaction as the entries that complete them
(:func:`append_hashes`).

Every RFC 9162 node is either such a complete subtree or an *incomplete* subtree on the right
edge of the tree, whose hash is the right fold of the complete subtrees it decomposes into
(:func:`subtree_keys_for_range`). So :func:`root`, :func:`inclusion_proof` and
:func:`consistency_proof` first work out the O(log n) keys they need, read them in a single
:meth:`HashReader.hashes` call (one query for a database), and then only hash.

The verifiers follow RFC 9162 sections 2.1.3.2 and 2.1.4.2 step by step, because an auditor
outside the carrier will check our proofs with some other RFC implementation, and ours must
agree with it exactly. This module does no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Final, Protocol, TypeAlias

HASH_SIZE: Final = 32
"""Bytes in every hash of the tree (SHA-256)."""

EMPTY_ROOT: Final = hashlib.sha256(b"").digest()
"""MTH({}) of RFC 9162: the root of the empty tree is the hash of the empty string."""

_LEAF_PREFIX: Final = b"\x00"
_NODE_PREFIX: Final = b"\x01"

SubtreeKey: TypeAlias = tuple[int, int]
"""``(level, index)`` of a complete subtree, covering
leaves ``[index << level, (index + 1) << level)``."""

_Range: TypeAlias = tuple[int, int]


class HashReader(Protocol):
    """Where the stored subtree hashes come from: a database table, or :class:`MemoryHashes`.

    The read is a batch so that a database answers a whole proof with one query. Callers only
    ask for complete subtrees that exist in the tree size they are working on.
    """

    def hashes(self, keys: Sequence[SubtreeKey]) -> Sequence[bytes]:
        """Return the stored hash of every key, in the order of ``keys``."""
        ...


def leaf_hash(entry: bytes) -> bytes:
    """SHA-256(0x00 || entry): the prefix keeps a leaf from ever passing for an inner node."""
    return hashlib.sha256(_LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right), the inner node of RFC 9162."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def root_from_leaves(leaf_hashes: Iterable[bytes]) -> bytes:
    """MTH over the given leaf hashes, computed in one pass without storage.

    For tests, for verifiers that download a whole small log, and as the yardstick that the
    stored-subtree code must match. It keeps the stack of complete subtrees (at most log n of
    them) and folds them from the right at the end, which is exactly the RFC's recursion.
    """
    stack: list[tuple[int, bytes]] = []  # (level, hash), levels strictly decreasing
    for value in leaf_hashes:
        _check_hash(value, "leaf hash")
        level, current = 0, value
        while stack and stack[-1][0] == level:
            current = node_hash(stack.pop()[1], current)
            level += 1
        stack.append((level, current))
    if not stack:
        return EMPTY_ROOT
    acc = stack[-1][1]
    for _, value in reversed(stack[:-1]):
        acc = node_hash(value, acc)
    return acc


def subtree_keys_for_range(start: int, end: int) -> list[SubtreeKey]:
    """Split leaves ``[start, end)`` into maximal complete aligned subtrees, left to right.

    Each step takes the largest subtree that starts at ``start`` (alignment) and fits before
    ``end``. For a range that is a node of the RFC tree (``start`` aligned to a power of two at
    least ``end - start``) this yields the binary decomposition of its size, largest first, so
    the node's hash is the right fold of these subtrees' hashes.
    """
    if start < 0 or end < start:
        raise ValueError(f"[{start}, {end}) is not a range of leaves")
    keys: list[SubtreeKey] = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start:
            level = min(level, (start & -start).bit_length() - 1)
        keys.append((level, start >> level))
        start += 1 << level
    return keys


def root(reader: HashReader, size: int) -> bytes:
    """MTH of the first ``size`` leaves, from at most log2(size) + 1 stored subtrees."""
    _check_size(size, "size")
    if size == 0:
        return EMPTY_ROOT
    ranges = [(0, size)]
    return _range_hashes(reader, ranges)[0]


def inclusion_proof(reader: HashReader, index: int, size: int) -> list[bytes]:
    """PATH(index, D[size]) of RFC 9162 section 2.1.3.1, leaf level first.

    Empty for a tree of one leaf, and then ``reader`` is not called.
    """
    _check_index(index, size)
    return _range_hashes(reader, _inclusion_ranges(index, size))


def consistency_proof(reader: HashReader, first: int, second: int) -> list[bytes]:
    """PROOF(first, D[second]) of RFC 9162 section 2.1.4.1.

    The RFC defines it for 0 < first < second. For ``first == 0`` or ``first == second`` there
    is nothing to prove and the proof is empty, which is what :func:`verify_consistency`
    expects in those cases; ``reader`` is then not called.
    """
    _check_sizes(first, second)
    if first in (0, second):
        return []
    return _range_hashes(reader, _consistency_ranges(first, second))


def proof_keys(index: int, size: int) -> list[SubtreeKey]:
    """Every stored subtree that :func:`inclusion_proof`, :func:`root` and the leaf itself need.

    A database answers a whole proof request with one read of these keys (see
    :class:`MemoryHashes` ``.of``), instead of one read per function.
    """
    _check_index(index, size)
    ranges = [*_inclusion_ranges(index, size), (0, size), (index, index + 1)]
    return list(
        dict.fromkeys(key for start, end in ranges for key in subtree_keys_for_range(start, end))
    )


def append_hashes(
    size_before: int, new_leaf_hashes: Sequence[bytes], reader: HashReader
) -> list[tuple[int, int, bytes]]:
    """Every ``(level, index, hash)`` that appending ``new_leaf_hashes`` brings into existence.

    That is the new leaves themselves (level 0) and every complete subtree they complete,
    ordered by level then index, so an appender stores them in the same transaction as the
    entries. The only old hashes needed are the left siblings on the old tree's right edge,
    at most one per level, read in one batch; nothing is read when none is needed.
    """
    _check_size(size_before, "size_before")
    for value in new_leaf_hashes:
        _check_hash(value, "leaf hash")
    size_after = size_before + len(new_leaf_hashes)

    needed: list[SubtreeKey] = []
    level = 0
    while (size_before >> (level + 1)) < (size_after >> (level + 1)):
        if (size_before >> level) & 1:  # the first new parent's left child is already stored
            needed.append((level, (size_before >> level) - 1))
        level += 1
    stored = _read(reader, needed)

    created = [(0, size_before + i, value) for i, value in enumerate(new_leaf_hashes)]
    layer, start, level = list(new_leaf_hashes), size_before, 0
    while True:
        first_parent, end_parent = size_before >> (level + 1), size_after >> (level + 1)
        if first_parent >= end_parent:
            return created
        if start & 1:
            layer.insert(0, stored[(level, start - 1)])
        parents = [
            node_hash(layer[2 * j], layer[2 * j + 1]) for j in range(end_parent - first_parent)
        ]
        created.extend((level + 1, first_parent + j, value) for j, value in enumerate(parents))
        layer, start, level = parents, first_parent, level + 1


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 section 2.1.3.2, step for step: is ``leaf_hash`` leaf ``index`` under ``root``?

    Impossible arguments (``index >= size``, negative numbers, a leaf hash or root that is not
    32 bytes) raise :class:`ValueError`: they are the caller's bug, not the log's. Anything
    wrong with the proof, which comes from the log, returns False.

    The tree size is authenticated by the signed tree head that carries ``root``, not by the
    proof: pair ``size`` with the root of that size.
    """
    _check_hash(leaf_hash, "leaf_hash")
    _check_hash(root, "root")
    _check_index(index, size)
    if not _well_formed(proof):
        return False
    fn, sn = index, size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 section 2.1.4.2, step for step: does the tree ``second`` extend tree ``first``?

    The RFC covers 0 < first < second. Outside it the proof must be empty: equal sizes need
    equal roots, and the empty tree (whose root must be :data:`EMPTY_ROOT`) is a prefix of
    every tree. ``first > second``, negative sizes and roots that are not 32 bytes raise
    :class:`ValueError`; anything wrong with the proof returns False.
    """
    _check_hash(first_root, "first_root")
    _check_hash(second_root, "second_root")
    _check_sizes(first, second)
    if not _well_formed(proof):
        return False
    if first == 0:
        return not proof and first_root == EMPTY_ROOT and (second > 0 or second_root == EMPTY_ROOT)
    if first == second:
        return not proof and first_root == second_root

    # 1. An empty consistency_path fails.
    if not proof:
        return False
    # 2. If first is an exact power of 2, prepend first_hash.
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    # 3. fn = first - 1, sn = second - 1.
    fn, sn = first - 1, second - 1
    # 4. While LSB(fn) is set, shift fn and sn right.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5. fr and sr start as the first value.
    fr = sr = path[0]
    # 6. Fold in every subsequent value.
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    # 7. Both roots must come out, and the path must have been exactly long enough.
    return fr == first_root and sr == second_root and sn == 0


class MemoryHashes:
    """A :class:`HashReader` over a dict, growing by :func:`append_hashes`.

    Tests use it as the reference store, and a verifier that downloads the entries of a log
    uses it to recompute roots and proofs without a database.
    """

    def __init__(self) -> None:
        self._hashes: dict[SubtreeKey, bytes] = {}
        self._size = 0

    @classmethod
    def of(cls, keys: Sequence[SubtreeKey], reader: HashReader) -> MemoryHashes:
        """The hashes of ``keys`` read from ``reader`` in one call, to answer from memory."""
        held = cls()
        held._hashes = _read(reader, keys)
        return held

    @property
    def size(self) -> int:
        """How many leaves have been appended."""
        return self._size

    def hashes(self, keys: Sequence[SubtreeKey]) -> list[bytes]:
        """The stored hash of every key; KeyError names a subtree that is not complete yet."""
        result: list[bytes] = []
        for key in keys:
            try:
                result.append(self._hashes[key])
            except KeyError:
                raise KeyError(
                    f"subtree (level, index) = {key} is not complete in a tree of {self._size}"
                ) from None
        return result

    def append(self, leaf_hashes: Sequence[bytes]) -> list[tuple[int, int, bytes]]:
        """Append leaf hashes and store every subtree they complete; returns what was stored."""
        created = append_hashes(self._size, leaf_hashes, self)
        for level, index, value in created:
            self._hashes[(level, index)] = value
        self._size += len(leaf_hashes)
        return created


def _inclusion_ranges(index: int, size: int) -> list[_Range]:
    """The leaf ranges whose MTHs make up PATH(index, D[size]), leaf level first.

    Walks the RFC recursion from the root down: at each node the split point is the largest
    power of two below the node's size, and the proof takes the half that does not hold the
    leaf. The RFC appends that half after the deeper path, hence the final reversal.
    """
    ranges: list[_Range] = []
    lo, hi = 0, size
    while hi - lo > 1:
        split = lo + _largest_power_of_two_below(hi - lo)
        if index < split:
            ranges.append((split, hi))
            hi = split
        else:
            ranges.append((lo, split))
            lo = split
    ranges.reverse()
    return ranges


def _consistency_ranges(first: int, second: int) -> list[_Range]:
    """The leaf ranges whose MTHs make up PROOF(first, D[second]) for 0 < first < second.

    The RFC's SUBPROOF(m, D[n], b) unrolled: ``whole`` is its ``b``, true while the node being
    split starts at leaf 0, so that its old part is the whole old tree whose root the verifier
    already has. Where the recursion stops (``first`` is the node's right end) the node's own
    hash joins the proof unless ``whole`` is still true.
    """
    ranges: list[_Range] = []
    lo, hi, whole = 0, second, True
    while first != hi:
        split = lo + _largest_power_of_two_below(hi - lo)
        if first <= split:
            ranges.append((split, hi))
            hi = split
        else:
            ranges.append((lo, split))
            lo, whole = split, False
    if not whole:
        ranges.append((lo, hi))
    ranges.reverse()
    return ranges


def _range_hashes(reader: HashReader, ranges: Sequence[_Range]) -> list[bytes]:
    """The MTH of each range (each a node of the RFC tree), from one batched read."""
    per_range = [subtree_keys_for_range(start, end) for start, end in ranges]
    stored = _read(reader, [key for keys in per_range for key in keys])
    result: list[bytes] = []
    for keys in per_range:
        acc = stored[keys[-1]]
        for key in reversed(keys[:-1]):
            acc = node_hash(stored[key], acc)
        result.append(acc)
    return result


def _read(reader: HashReader, keys: Iterable[SubtreeKey]) -> dict[SubtreeKey, bytes]:
    """One ``reader.hashes`` call for the distinct keys, none when there is nothing to read."""
    unique = list(dict.fromkeys(keys))
    if not unique:
        return {}
    values = reader.hashes(unique)
    if len(values) != len(unique):
        raise ValueError(f"the hash reader returned {len(values)} hashes for {len(unique)} keys")
    for key, value in zip(unique, values, strict=True):
        _check_hash(value, f"stored hash of subtree {key}")
    return dict(zip(unique, values, strict=True))


def _largest_power_of_two_below(n: int) -> int:
    """The RFC's k for a node of n >= 2 leaves: the largest power of two smaller than n."""
    return 1 << ((n - 1).bit_length() - 1)


def _well_formed(proof: Sequence[bytes]) -> bool:
    return all(isinstance(p, bytes) and len(p) == HASH_SIZE for p in proof)


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        got = f"{len(value)} bytes" if isinstance(value, bytes) else type(value).__name__
        raise ValueError(f"{what} must be {HASH_SIZE} bytes, got {got}")


def _check_size(size: int, what: str) -> None:
    if size < 0:
        raise ValueError(f"{what} must not be negative, got {size}")


def _check_index(index: int, size: int) -> None:
    _check_size(size, "size")
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of {size} leaves")


def _check_sizes(first: int, second: int) -> None:
    _check_size(first, "first")
    if second < first:
        raise ValueError(f"a tree of {second} leaves cannot extend one of {first}")
