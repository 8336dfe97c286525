"""The label-token key: 32 random bytes in their own 0600 file, ``keys/label.key``.

It is kept apart from the KEK on purpose. Label printers need it to mint tokens, and a
printing host is a weaker place than the vault's; if this key leaks, an attacker can forge
QR codes, but a forged token still only reaches the reveal service, which checks the
device, the purpose and the workflow. The KEK, which opens recipient data, stays elsewhere.
Losing the file only makes printed labels unscannable (reprint them), never data unreadable.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from pathlib import Path

from parcelguard.config import Settings
from parcelguard.core.errors import KeyError_
from parcelguard.labels.token import KEY_BYTES
from parcelguard.vault.keys import read_secret_text, write_secret_text


def label_key_path(settings: Settings) -> Path:
    """Where the label key lives: beside the log key, under ``PARCELGUARD_HOME/keys``."""
    return settings.home / "keys" / "label.key"


def label_key(settings: Settings, create: bool) -> bytes:
    """The label key's 32 bytes; with ``create``, make the file first if it is missing.

    Creating never overwrites: if another process creates the file first, its key is read.
    """
    path = label_key_path(settings)
    if create and not path.exists():
        try:
            write_secret_text(path, base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode())
        except KeyError_:
            if not path.exists():  # not a lost race but a real failure
                raise
    text = read_secret_text(path)
    try:
        material = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise KeyError_(f"key file {path}: not base64") from None
    if len(material) != KEY_BYTES:
        raise KeyError_(
            f"key file {path}: a label key is {KEY_BYTES} bytes, this one is {len(material)}"
        )
    return material
