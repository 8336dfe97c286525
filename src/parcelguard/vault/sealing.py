"""Encrypting a field under a data key: the only direction the vault itself may go."""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from parcelguard.vault.fields import FORMAT_TAG, NONCE_BYTES, Field, field_aad

_NONCES_PER_DRAW = 4096


class FieldSealer:
    """Seals fields under one data key; every call spends one nonce of the key's budget.

    Nonces come from the OS CSPRNG 4,096 at a time (one system call instead of one per
    field); the associated data is assembled from per-field parts precomputed for this key,
    and equals :func:`parcelguard.vault.fields.field_aad` byte for byte (tested).
    """

    def __init__(self, aead: AESGCM, key_id: str) -> None:
        self._encrypt = aead.encrypt
        self._prefix = FORMAT_TAG + b"\x00"
        self._suffix = {f: b"\x00" + f.value.encode() + b"\x00" + key_id.encode() for f in Field}
        self._pool = b""
        self._used = 0

    def __call__(self, waybill_no: str, field: Field, plaintext: str) -> bytes:
        if self._used >= len(self._pool):
            self._pool = os.urandom(NONCE_BYTES * _NONCES_PER_DRAW)
            self._used = 0
        nonce = self._pool[self._used : self._used + NONCE_BYTES]
        self._used += NONCE_BYTES
        aad = self._prefix + waybill_no.encode() + self._suffix[field]
        return nonce + self._encrypt(nonce, plaintext.encode(), aad)


__all__ = ["FieldSealer", "field_aad"]
