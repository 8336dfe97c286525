"""Keyed blind indexes: equality matching of phones and names without decrypting anything.

HMAC-SHA256 under a key of its own (never a data key, so shredding a day does not break
matching of other days), truncated to 128 bits: plenty against accidental collisions at a
carrier's volume, and less for an attacker to work with. Inputs are normalised by the same
pure functions forensics uses on leaked files, so both sides meet.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from parcelguard.core.names import normalise_name
from parcelguard.core.phone import normalise_cn_mobile

INDEX_BYTES = 16
# Each kind of index hashes its own domain tag first, so a phone and an ID number that
# happened to be the same text never share an index. A batch that builds its messages
# elsewhere (forensics builds them as Polars columns) must build exactly these bytes.
PHONE_DOMAIN = b"phone\x00"
NAME_PHONE_DOMAIN = b"name+phone\x00"
ID_NUMBER_DOMAIN = b"id-number\x00"
SEPARATOR = b"\x00"
_PHONE = PHONE_DOMAIN
_NAME_PHONE = NAME_PHONE_DOMAIN
_ID_NUMBER = ID_NUMBER_DOMAIN
_SEP = SEPARATOR
_BLOCK = 64  # SHA-256's block size, which RFC 2104 pads the key to


class BlindIndexer:
    """HMAC-SHA256 (RFC 2104) over two SHA-256 states keyed once and copied per message.

    ``hmac.new(...).copy()`` wraps the same two states in Python objects and methods,
    which cost more than the hashing of a short message; copying the ``hashlib`` states
    directly is about 1.5x faster per index, and the batch methods hoist the lookups out
    of the loop as well. Results are ``hmac.new(key, message, "sha256").digest()[:16]``
    (tested), so the vault and forensics meet whichever method made an index.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        self._key = key  # for unsafe_export_key: the two states below are as secret anyway
        padded = key.ljust(_BLOCK, b"\x00")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))

    def __reduce__(self) -> tuple[type[BlindIndexer], tuple[bytes]]:
        """Refused: a pickled indexer would be its key written out wherever the pickle goes."""
        raise TypeError(
            "a BlindIndexer is not pickled (it would write its key out); "
            "pass unsafe_export_key() to a process that must index, on purpose"
        )

    def unsafe_export_key(self) -> bytes:
        """The key (as RFC 2104 uses it), for the ingest's own worker processes only.

        Whoever holds it can compute every index of the vault, so it may cross a pipe to a
        process this one started, never a file, a log or a network.
        """
        return self._key

    def __repr__(self) -> str:
        return "BlindIndexer(<key hidden>)"

    def _mac(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()[:INDEX_BYTES]

    def macs(self, messages: Sequence[bytes]) -> list[bytes]:
        """The index of each whole message, in order: the loop every batch method runs."""
        inner_copy = self._inner.copy
        outer_copy = self._outer.copy
        out: list[bytes] = []
        append = out.append
        for message in messages:
            inner = inner_copy()
            inner.update(message)
            outer = outer_copy()
            outer.update(inner.digest())
            append(outer.digest()[:INDEX_BYTES])
        return out

    def phone(self, normalised_phone: str) -> bytes:
        return self._mac(_PHONE + normalised_phone.encode())

    def phones(self, normalised_phones: Sequence[str]) -> list[bytes]:
        """``[self.phone(p) for p in normalised_phones]``, with less work per number."""
        return self.macs([_PHONE + p.encode() for p in normalised_phones])

    def name_phone(self, normalised_name: str, normalised_phone: str) -> bytes:
        return self._mac(_NAME_PHONE + normalised_name.encode() + _SEP + normalised_phone.encode())

    def name_phones(
        self, normalised_names: Sequence[str], normalised_phones: Sequence[str]
    ) -> list[bytes]:
        """``name_phone`` of each (name, phone) pair; the two sequences must be as long."""
        if len(normalised_names) != len(normalised_phones):
            raise ValueError(
                f"name_phones: {len(normalised_names)} names for {len(normalised_phones)} phones"
            )
        return self.macs(
            [
                b"".join((_NAME_PHONE, n.encode(), _SEP, p.encode()))
                for n, p in zip(normalised_names, normalised_phones, strict=True)
            ]
        )

    def id_number(self, normalised_id: str) -> bytes:
        """Index of an 18-character resident ID number (digits, upper-case ``X``).

        The vault stores no ID numbers; leaked files often do, and forensics needs them to
        count persons (Art. 11) without keeping them in the clear.
        """
        return self._mac(_ID_NUMBER + normalised_id.encode())

    def id_numbers(self, normalised_ids: Sequence[str]) -> list[bytes]:
        return self.macs([_ID_NUMBER + i.encode() for i in normalised_ids])

    def phone_of_text(self, text: str) -> bytes:
        """Index of a phone as found in the wild (raises ``InvalidPhone``)."""
        return self.phone(normalise_cn_mobile(text))

    def name_phone_of_text(self, name: str, phone: str) -> bytes:
        return self.name_phone(normalise_name(name), normalise_cn_mobile(phone))
