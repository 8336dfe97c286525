"""The encrypted-field format, shared by sealing (vault) and opening (reveal only).

A stored field is ``nonce (12 bytes) || AES-256-GCM ciphertext+tag``. The associated data
binds it to its waybill, its field name and its data key, so a ciphertext copied into
another row, another column or re-labelled with another key id fails authentication.
"""

from __future__ import annotations

from enum import StrEnum

NONCE_BYTES = 12
FORMAT_TAG = b"pg-field-v1"


class Field(StrEnum):
    NAME = "name"
    PHONE = "phone"
    ADDRESS = "address"


def field_aad(waybill_no: str, field: Field, key_id: str) -> bytes:
    return b"\x00".join((FORMAT_TAG, waybill_no.encode(), field.value.encode(), key_id.encode()))


def data_key_context(key_id: str) -> bytes:
    return b"parcelguard/data-key/" + key_id.encode()


def index_key_context(key_id: str) -> bytes:
    return b"parcelguard/index-key/" + key_id.encode()
