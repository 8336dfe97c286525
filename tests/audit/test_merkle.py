"""The stored-subtree Merkle tree agrees with RFC 9162, its vectors and its recursive definitions.

The reference below is written from the RFC text alone (MTH, PATH, PROOF/SUBPROOF, recursive
on lists of entries, hashing with hashlib directly) and shares no code with merkle.py, so the
two can only agree by both being right.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parcelguard.audit.merkle import (
    EMPTY_ROOT,
    MemoryHashes,
    append_hashes,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    root_from_leaves,
    subtree_keys_for_range,
    verify_consistency,
    verify_inclusion,
)

# --- The RFC 6962 reference vectors (certificate-transparency's merkle tree tests) -----------

CT_ENTRIES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = {
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}
CT_INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
]
CT_CONSISTENCY = [
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]


def _store(entries: Sequence[bytes]) -> MemoryHashes:
    store = MemoryHashes()
    store.append([leaf_hash(e) for e in entries])
    return store


CT_STORE = _store(CT_ENTRIES)


# --- An independent reference: RFC 9162 section 2.1, transcribed recursively -----------------


def ref_hash(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def ref_k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: Sequence[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return ref_hash(b"")
    if n == 1:
        return ref_hash(b"\x00" + d[0])
    k = ref_k(n)
    return ref_hash(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:]))


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = ref_k(n)
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_proof(m: int, d: Sequence[bytes]) -> list[bytes]:
    return ref_subproof(m, d, True)


def ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = ref_k(n)
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def entries(n: int) -> list[bytes]:
    return [b"parcelguard-entry-%d" % i for i in range(n)]


SMALL = 40
SMALL_ENTRIES = entries(SMALL)
SMALL_STORE = _store(SMALL_ENTRIES)
SMALL_ROOTS = {n: ref_mth(SMALL_ENTRIES[:n]) for n in range(SMALL + 1)}

LARGE = 5000
LARGE_ENTRIES = entries(LARGE)
LARGE_STORE = _store(LARGE_ENTRIES)


def flip(value: bytes, bit: int = 0) -> bytes:
    out = bytearray(value)
    out[bit // 8 % len(out)] ^= 1 << (bit % 8)
    return bytes(out)


# --- 1. Reference vectors ---------------------------------------------------------------------


def test_the_reference_is_the_rfc_tree() -> None:
    """The transcribed reference reproduces the CT vectors, so it can judge the rest."""
    for n, expected in CT_ROOTS.items():
        assert ref_mth(CT_ENTRIES[:n]).hex() == expected
    for index, size, path in CT_INCLUSION:
        assert [h.hex() for h in ref_path(index, CT_ENTRIES[:size])] == path
    for first, second, proof in CT_CONSISTENCY:
        assert [h.hex() for h in ref_proof(first, CT_ENTRIES[:second])] == proof


def test_hashing_primitives() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"").hex() == CT_ROOTS[1]
    assert node_hash(leaf_hash(b""), leaf_hash(b"\x00")).hex() == CT_ROOTS[2]
    assert root_from_leaves([]) == EMPTY_ROOT
    assert root(CT_STORE, 0) == EMPTY_ROOT


@pytest.mark.parametrize(("size", "expected"), sorted(CT_ROOTS.items()))
def test_ct_roots(size: int, expected: str) -> None:
    assert root(CT_STORE, size).hex() == expected
    assert root_from_leaves([leaf_hash(e) for e in CT_ENTRIES[:size]]).hex() == expected


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_ct_inclusion(index: int, size: int, path: list[str]) -> None:
    proof = inclusion_proof(CT_STORE, index, size)
    assert [h.hex() for h in proof] == path
    leaf = leaf_hash(CT_ENTRIES[index])
    assert verify_inclusion(leaf, index, size, proof, bytes.fromhex(CT_ROOTS[size]))


@pytest.mark.parametrize(("first", "second", "expected"), CT_CONSISTENCY)
def test_ct_consistency(first: int, second: int, expected: list[str]) -> None:
    proof = consistency_proof(CT_STORE, first, second)
    assert [h.hex() for h in proof] == expected
    first_root, second_root = bytes.fromhex(CT_ROOTS[first]), bytes.fromhex(CT_ROOTS[second])
    assert verify_consistency(first, second, first_root, second_root, proof)


# --- 2. Every small tree against the reference ------------------------------------------------


def test_subtree_decomposition_is_maximal_aligned_and_covers_the_range() -> None:
    for start in range(70):
        for end in range(start, 70):
            keys = subtree_keys_for_range(start, end)
            position = start
            for level, index in keys:
                assert index << level == position  # contiguous and aligned
                position += 1 << level
                parent_start = (index >> 1) << (level + 1)  # its parent would not fit or align
                assert parent_start < start or parent_start + (2 << level) > end
            assert position == end
    assert subtree_keys_for_range(0, 13) == [(3, 0), (2, 2), (0, 12)]
    assert subtree_keys_for_range(5, 16) == [(0, 5), (1, 3), (3, 1)]
    with pytest.raises(ValueError, match="range"):
        subtree_keys_for_range(5, 4)


def test_roots_of_every_small_size_match_the_reference() -> None:
    leaves = [leaf_hash(e) for e in SMALL_ENTRIES]
    for n in range(SMALL + 1):
        assert root(SMALL_STORE, n) == SMALL_ROOTS[n]
        assert root_from_leaves(leaves[:n]) == SMALL_ROOTS[n]


def test_every_small_inclusion_proof_matches_the_reference_and_verifies() -> None:
    for size in range(1, SMALL + 1):
        tree_root = SMALL_ROOTS[size]
        for index in range(size):
            proof = inclusion_proof(SMALL_STORE, index, size)
            assert proof == ref_path(index, SMALL_ENTRIES[:size]), (index, size)
            leaf = leaf_hash(SMALL_ENTRIES[index])
            assert verify_inclusion(leaf, index, size, proof, tree_root)

            assert not verify_inclusion(flip(leaf), index, size, proof, tree_root)
            assert not verify_inclusion(leaf, index, size, proof, flip(tree_root, 77))
            for i in range(len(proof)):
                bad = [*proof[:i], flip(proof[i], 8 * i + 3), *proof[i + 1 :]]
                assert not verify_inclusion(leaf, index, size, bad, tree_root)
            if proof:
                assert not verify_inclusion(leaf, index, size, proof[:-1], tree_root)
            assert not verify_inclusion(
                leaf, index, size, [*proof, proof[0] if proof else leaf], tree_root
            )
            for wrong in range(size):
                if wrong != index:
                    assert not verify_inclusion(leaf, wrong, size, proof, tree_root)
            # The same proof against another tree head (size and its root) never verifies.
            for other in range(index + 1, SMALL + 1):
                if other != size:
                    assert not verify_inclusion(leaf, index, other, proof, SMALL_ROOTS[other])


def test_every_small_consistency_proof_matches_the_reference_and_verifies() -> None:
    for second in range(1, SMALL + 1):
        second_root = SMALL_ROOTS[second]
        for first in range(1, second):
            first_root = SMALL_ROOTS[first]
            proof = consistency_proof(SMALL_STORE, first, second)
            assert proof == ref_proof(first, SMALL_ENTRIES[:second]), (first, second)
            assert verify_consistency(first, second, first_root, second_root, proof)

            assert not verify_consistency(first, second, flip(first_root), second_root, proof)
            assert not verify_consistency(first, second, first_root, flip(second_root), proof)
            for i in range(len(proof)):
                bad = [*proof[:i], flip(proof[i], 5 * i + 1), *proof[i + 1 :]]
                assert not verify_consistency(first, second, first_root, second_root, bad)
            assert not verify_consistency(first, second, first_root, second_root, proof[:-1])
            assert not verify_consistency(
                first, second, first_root, second_root, [*proof, proof[0]]
            )
            # The proof against other tree heads (a size with its own root) never verifies.
            for other in range(1, SMALL + 1):
                if other not in (first, second) and other < second:
                    assert not verify_consistency(
                        other, second, SMALL_ROOTS[other], second_root, proof
                    )
                if other not in (first, second) and other > first:
                    assert not verify_consistency(
                        first, other, first_root, SMALL_ROOTS[other], proof
                    )


def test_trivial_consistency_cases() -> None:
    r5 = SMALL_ROOTS[5]
    assert consistency_proof(SMALL_STORE, 5, 5) == []
    assert consistency_proof(SMALL_STORE, 0, 5) == []
    assert verify_consistency(5, 5, r5, r5, [])
    assert not verify_consistency(5, 5, r5, SMALL_ROOTS[4], [])
    assert not verify_consistency(5, 5, r5, r5, [r5])
    assert verify_consistency(0, 5, EMPTY_ROOT, r5, [])
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert not verify_consistency(0, 5, r5, r5, [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, r5, [r5])
    assert not verify_consistency(3, 5, SMALL_ROOTS[3], r5, [])  # RFC step 1


def test_the_size_is_bound_by_the_tree_head_not_by_the_proof() -> None:
    """Leaf 0 climbs the same left edge in trees of 5 to 8 leaves, so the RFC algorithm accepts
    a size-5 proof with the size-5 root under a claimed size of 6: only a (size, root) pair from
    one signed tree head means anything, which is how every caller must use the verifier."""
    proof = inclusion_proof(SMALL_STORE, 0, 5)
    leaf = leaf_hash(SMALL_ENTRIES[0])
    assert verify_inclusion(leaf, 0, 6, proof, SMALL_ROOTS[5])
    assert not verify_inclusion(leaf, 0, 6, proof, SMALL_ROOTS[6])


def test_impossible_arguments_raise() -> None:
    r = SMALL_ROOTS[4]
    leaf = leaf_hash(b"x")
    with pytest.raises(ValueError, match="not in a tree of 4"):
        verify_inclusion(leaf, 4, 4, [], r)
    with pytest.raises(ValueError, match="not in a tree of 0"):
        verify_inclusion(leaf, 0, 0, [], EMPTY_ROOT)
    with pytest.raises(ValueError, match="not in a tree"):
        verify_inclusion(leaf, -1, 4, [], r)
    with pytest.raises(ValueError, match="leaf_hash must be 32 bytes"):
        verify_inclusion(leaf[:31], 0, 4, [], r)
    with pytest.raises(ValueError, match="root must be 32 bytes"):
        verify_inclusion(leaf, 0, 4, [], r + b"\x00")
    with pytest.raises(ValueError, match="cannot extend"):
        verify_consistency(5, 4, r, r, [])
    with pytest.raises(ValueError, match="first must not be negative"):
        verify_consistency(-1, 4, r, r, [])
    with pytest.raises(ValueError, match="second_root must be 32 bytes"):
        verify_consistency(1, 4, r, b"", [])
    with pytest.raises(ValueError, match="not in a tree of 40"):
        inclusion_proof(SMALL_STORE, 40, 40)
    with pytest.raises(ValueError, match="cannot extend"):
        consistency_proof(SMALL_STORE, 6, 5)
    with pytest.raises(ValueError, match="must not be negative"):
        root(SMALL_STORE, -1)
    with pytest.raises(ValueError, match="leaf hash must be 32 bytes"):
        MemoryHashes().append([b"short"])
    with pytest.raises(KeyError, match="not complete"):
        root(SMALL_STORE, SMALL + 1)


def test_a_malformed_proof_is_rejected_not_raised() -> None:
    proof = inclusion_proof(SMALL_STORE, 3, 10)
    leaf = leaf_hash(SMALL_ENTRIES[3])
    assert not verify_inclusion(leaf, 3, 10, [proof[0][:31], *proof[1:]], SMALL_ROOTS[10])
    cproof = consistency_proof(SMALL_STORE, 3, 10)
    assert not verify_consistency(3, 10, SMALL_ROOTS[3], SMALL_ROOTS[10], [*cproof[:-1], b""])


# --- 3. Larger random trees against the reference ---------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_random_inclusion_proofs_match_the_reference(data: st.DataObject) -> None:
    size = data.draw(st.integers(1, LARGE), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = inclusion_proof(LARGE_STORE, index, size)
    assert proof == ref_path(index, LARGE_ENTRIES[:size])
    tree_root = root(LARGE_STORE, size)
    assert tree_root == ref_mth(LARGE_ENTRIES[:size])
    leaf = leaf_hash(LARGE_ENTRIES[index])
    assert verify_inclusion(leaf, index, size, proof, tree_root)
    if proof:
        assert not verify_inclusion(leaf, index, size, [flip(proof[0]), *proof[1:]], tree_root)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_random_consistency_proofs_match_the_reference(data: st.DataObject) -> None:
    second = data.draw(st.integers(2, LARGE), label="second")
    first = data.draw(st.integers(1, second - 1), label="first")
    proof = consistency_proof(LARGE_STORE, first, second)
    assert proof == ref_proof(first, LARGE_ENTRIES[:second])
    first_root, second_root = root(LARGE_STORE, first), root(LARGE_STORE, second)
    assert verify_consistency(first, second, first_root, second_root, proof)
    assert not verify_consistency(
        first, second, first_root, second_root, [*proof[:-1], flip(proof[-1])]
    )


# --- 4. One batched read of O(log n) keys -----------------------------------------------------


class FabricatingReader:
    """Answers any key with a deterministic hash and records every call and key."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.calls: list[list[tuple[int, int]]] = []

    def hashes(self, keys: Sequence[tuple[int, int]]) -> list[bytes]:
        self.calls.append(list(keys))
        for level, index in keys:
            assert level >= 0
            assert index >= 0
            assert (index + 1) << level <= self.size, f"{(level, index)} is not a complete subtree"
        return [hashlib.sha256(b"%d/%d" % key).digest() for key in keys]


HUGE = 10_000_000


def _assert_one_small_batch(reader: FabricatingReader, size: int) -> None:
    assert len(reader.calls) == 1
    keys = reader.calls[0]
    assert len(keys) == len(set(keys))
    assert len(keys) <= 2 * math.ceil(math.log2(size)) + 2


@pytest.mark.parametrize(
    "index", [0, 1, 4_194_303, 8_388_607, 8_388_608, 9_999_998, HUGE - 1, 1_234_567]
)
def test_an_inclusion_proof_at_ten_million_is_one_batched_read(index: int) -> None:
    reader = FabricatingReader(HUGE)
    proof = inclusion_proof(reader, index, HUGE)
    _assert_one_small_batch(reader, HUGE)
    assert len(proof) == math.ceil(math.log2(HUGE)) or index >= 8_388_608


@pytest.mark.parametrize(
    "first", [1, 2, 3, 1000, 4_194_304, 8_388_607, 8_388_608, 8_388_609, 9_999_999, 7_777_777]
)
def test_a_consistency_proof_at_ten_million_is_one_batched_read(first: int) -> None:
    reader = FabricatingReader(HUGE)
    consistency_proof(reader, first, HUGE)
    _assert_one_small_batch(reader, HUGE)


def test_random_proofs_at_ten_million_are_one_batched_read() -> None:
    rng = random.Random(9162)
    for _ in range(300):
        size = rng.randint(2, HUGE)
        reader = FabricatingReader(size)
        inclusion_proof(reader, rng.randrange(size), size)
        _assert_one_small_batch(reader, size)
        reader = FabricatingReader(size)
        consistency_proof(reader, rng.randint(1, size - 1), size)
        _assert_one_small_batch(reader, size)
        reader = FabricatingReader(size)
        root(reader, size)
        _assert_one_small_batch(reader, size)


def test_appending_at_ten_million_reads_only_the_right_edge_once() -> None:
    reader = FabricatingReader(HUGE - 1)
    created = append_hashes(HUGE - 1, [leaf_hash(b"one more")], reader)
    _assert_one_small_batch(reader, HUGE)
    # 9_999_999 is odd and 10_000_000 has seven trailing zero bits: the leaf plus seven parents.
    assert [(level, index) for level, index, _ in created] == [
        (level, HUGE // (1 << level) - 1) for level in range(8)
    ]


# --- 5. Appending in batches keeps the stored tree equal to the RFC tree -----------------------


def test_appending_in_random_batches_gives_the_rfc_roots_for_every_size() -> None:
    rng = random.Random(6962)
    leaves = [leaf_hash(e) for e in entries(1500)]
    store = MemoryHashes()
    stored: set[tuple[int, int]] = set()
    done = 0
    while done < len(leaves):
        batch = leaves[done : done + rng.choice([1, 1, 2, 3, 7, 16, rng.randint(1, 200)])]
        created = store.append(batch)
        done += len(batch)
        assert store.size == done
        new_keys = {(lvl, idx) for lvl, idx, _ in created}
        assert len(new_keys) == len(created)
        assert not new_keys & stored
        stored |= new_keys
        assert new_keys == {
            (lvl, idx)
            for lvl in range(done.bit_length())
            for idx in range((done - len(batch)) >> lvl, done >> lvl)
        }
    # The store holds exactly the complete subtrees, and every prefix has the RFC root.
    assert stored == {(lvl, idx) for lvl in range(done.bit_length()) for idx in range(done >> lvl)}
    for n in range(done + 1):
        assert root(store, n) == root_from_leaves(leaves[:n])
    for n in (1, 2, 3, 1024, 1499, 1500):
        assert root(store, n) == ref_mth(entries(1500)[:n])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 70), max_size=12))
def test_any_batching_gives_the_rfc_roots(batches: list[int]) -> None:
    leaves = [leaf_hash(e) for e in LARGE_ENTRIES[: sum(batches)]]
    store = MemoryHashes()
    for count in batches:
        size = store.size
        store.append(leaves[size : size + count])
        assert root(store, store.size) == root(LARGE_STORE, store.size)
    for n in range(store.size + 1):
        assert root(store, n) == root_from_leaves(leaves[:n])


def test_appending_nothing_reads_and_creates_nothing() -> None:
    reader = FabricatingReader(5)
    assert append_hashes(5, [], reader) == []
    assert reader.calls == []
