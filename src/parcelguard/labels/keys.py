"""The label-token key: 32 random bytes in their own 0600 file, ``keys/label.key``.

It is kept apart from the KEK on purpose. Label printers need it to mint tokens, and a
printing host is a weaker place than the vault's; if this key leaks, an attacker can forge
QR codes, but a forged token still only reaches the reveal service, which checks the
device, the purpose and the workflow. The KEK, which opens recipient data, stays elsewhere.
Losing the file only makes printed labels unscannable (reprint them), never data unreadable.
"""

from __future__ import annotations

from pathlib import Path

from parcelguard.config import Settings
from parcelguard.labels.token import KEY_BYTES
from parcelguard.vault.keys import random_key_file


def label_key_path(settings: Settings) -> Path:
    """Where the label key lives: beside the log key, under ``PARCELGUARD_HOME/keys``."""
    return settings.home / "keys" / "label.key"


def label_key(settings: Settings, create: bool) -> bytes:
    """The label key's 32 bytes; with ``create``, make the file first if it is missing.

    Creating never overwrites: if another process creates the file first, its key is read.
    """
    return random_key_file(label_key_path(settings), KEY_BYTES, "a label key", create=create)
