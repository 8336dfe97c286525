"""Keyed blind indexes: equality matching of phones and names without decrypting anything.

HMAC-SHA256 under a key of its own (never a data key, so shredding a day does not break
matching of other days), truncated to 128 bits: plenty against accidental collisions at a
carrier's volume, and less for an attacker to work with. Inputs are normalised by the same
pure functions forensics uses on leaked files, so both sides meet.
"""

from __future__ import annotations

import hmac

from parcelguard.core.names import normalise_name
from parcelguard.core.phone import normalise_cn_mobile

INDEX_BYTES = 16
_PHONE = b"phone\x00"
_NAME_PHONE = b"name+phone\x00"


class BlindIndexer:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def phone(self, normalised_phone: str) -> bytes:
        return hmac.digest(self._key, _PHONE + normalised_phone.encode(), "sha256")[:INDEX_BYTES]

    def name_phone(self, normalised_name: str, normalised_phone: str) -> bytes:
        message = _NAME_PHONE + normalised_name.encode() + b"\x00" + normalised_phone.encode()
        return hmac.digest(self._key, message, "sha256")[:INDEX_BYTES]

    def phone_of_text(self, text: str) -> bytes:
        """Index of a phone as found in the wild (raises ``InvalidPhone``)."""
        return self.phone(normalise_cn_mobile(text))

    def name_phone_of_text(self, name: str, phone: str) -> bytes:
        return self.name_phone(normalise_name(name), normalise_cn_mobile(phone))
