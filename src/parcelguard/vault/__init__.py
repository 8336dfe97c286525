"""The field-encrypted vault of recipient data.

Public surface: :class:`Vault` (put, lookup by blind index, stats, shred) and the key
providers. Opening ciphertext is deliberately not here; see ``parcelguard.reveal``.
"""

from parcelguard.vault.keys import EnvironmentKek, KeyProvider, LocalKeyFile
from parcelguard.vault.store import PutResult, ShredResult, Vault

__all__ = ["EnvironmentKek", "KeyProvider", "LocalKeyFile", "PutResult", "ShredResult", "Vault"]
