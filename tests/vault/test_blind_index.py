"""BlindIndexer: the same 128-bit HMAC-SHA256 whichever method or key length made it.

The vault indexes waybills one at a time and forensics indexes a leak's persons in
batches; if the two ever disagreed, a leaked phone would silently stop matching.
"""

from __future__ import annotations

import hashlib
import hmac

import pytest

from parcelguard.vault.blind_index import INDEX_BYTES, BlindIndexer

PHONES = ["13812345678", "19912345678", "14500000000"]
NAMES = ["张三", "欧阳娜娜", "Li Wei"]
IDS = ["11010519491231002X", "440524188001010014"]


def _reference(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()[:INDEX_BYTES]


@pytest.mark.parametrize("key_length", [0, 1, 32, 63, 64, 65, 200])
def test_each_index_is_truncated_hmac_sha256_for_any_key_length(key_length: int) -> None:
    key = bytes(range(256))[:key_length]
    indexer = BlindIndexer(key)
    assert indexer.phone(PHONES[0]) == _reference(key, b"phone\x00" + PHONES[0].encode())
    assert indexer.name_phone(NAMES[0], PHONES[0]) == _reference(
        key, b"name+phone\x00" + NAMES[0].encode() + b"\x00" + PHONES[0].encode()
    )
    assert indexer.id_number(IDS[0]) == _reference(key, b"id-number\x00" + IDS[0].encode())


def test_batches_equal_the_single_methods_in_order() -> None:
    indexer = BlindIndexer(b"k" * 32)
    assert indexer.phones(PHONES) == [indexer.phone(p) for p in PHONES]
    assert indexer.name_phones(NAMES, PHONES) == [
        indexer.name_phone(n, p) for n, p in zip(NAMES, PHONES, strict=True)
    ]
    assert indexer.id_numbers(IDS) == [indexer.id_number(i) for i in IDS]
    assert indexer.phones([]) == []


def test_indexes_depend_on_the_key_and_on_the_kind_of_value() -> None:
    one, other = BlindIndexer(b"a" * 32), BlindIndexer(b"b" * 32)
    assert one.phone(PHONES[0]) != other.phone(PHONES[0])
    # A phone and an ID number spelling the same digits never share an index.
    assert one.phone("110105194912310021") != one.id_number("110105194912310021")


def test_repeated_use_does_not_change_the_keyed_state() -> None:
    indexer = BlindIndexer(b"k" * 32)
    first = indexer.phones(PHONES)
    indexer.phones(["13000000000"] * 5)
    assert indexer.phones(PHONES) == first


def test_name_phones_refuses_sequences_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="2 names for 3 phones"):
        BlindIndexer(b"k" * 32).name_phones(NAMES[:2], PHONES)
