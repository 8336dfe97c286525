"""Opening an encrypted field. Private: only ``parcelguard.reveal`` may import this module.

The import-linter contract "One door" in ``pyproject.toml`` fails ``make lint`` if any other
module of the package imports it. Everything here takes already-fetched bytes, so the caller
(the reveal service) decides, audits and fetches; this only does the cryptography.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from parcelguard.core.errors import ParcelGuardError
from parcelguard.vault.fields import NONCE_BYTES, Field, data_key_context, field_aad
from parcelguard.vault.keys import KeyProvider


class FieldUnreadable(ParcelGuardError):
    """A field cannot be opened: shredded, tampered with, or moved from another row."""

    code = "field_unreadable"


def unwrap_data_key(provider: KeyProvider, key_id: str, wrapped: bytes | None) -> AESGCM:
    if wrapped is None:
        raise FieldUnreadable(f"data key {key_id} was destroyed (crypto-shredded)")
    return AESGCM(provider.unwrap(wrapped, data_key_context(key_id)))


def open_field(
    aead: AESGCM, waybill_no: str, field: Field, key_id: str, stored: bytes | None
) -> str:
    if stored is None:
        raise FieldUnreadable(f"waybill {waybill_no}: {field} was shredded")
    nonce, body = stored[:NONCE_BYTES], stored[NONCE_BYTES:]
    try:
        plaintext = aead.decrypt(nonce, body, field_aad(waybill_no, field, key_id))
    except InvalidTag:
        raise FieldUnreadable(
            f"waybill {waybill_no}: {field} does not authenticate "
            "(tampered, or moved from another row, field or key)"
        ) from None
    return plaintext.decode("utf-8")
