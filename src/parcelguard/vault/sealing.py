"""Encrypting a field under a data key: the only direction the vault itself may go."""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from parcelguard.vault.fields import NONCE_BYTES, Field, field_aad


class FieldSealer:
    """Seals fields under one data key; every call spends one nonce of the key's budget."""

    def __init__(self, aead: AESGCM) -> None:
        self._encrypt = aead.encrypt

    def __call__(self, waybill_no: str, field: Field, key_id: str, plaintext: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        aad = field_aad(waybill_no, field, key_id)
        return nonce + self._encrypt(nonce, plaintext.encode(), aad)
