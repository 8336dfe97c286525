"""The key-encryption key (KEK) and where it comes from.

Data keys and the blind-index key are stored in the database only wrapped by the KEK. The KEK
itself lives apart from the database: a local key file (mode 0600, the default), an
environment variable (tests, containers with a secret mount), or a KMS. A KMS plugs in by
implementing :class:`KeyProvider`: ``wrap``/``unwrap`` map onto a KMS's encrypt/decrypt with
an encryption context, so the KEK never has to leave the KMS.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import stat
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from parcelguard.core.errors import KeyError_

KEY_BYTES = 32
_NONCE_BYTES = 12


@runtime_checkable
class KeyProvider(Protocol):
    """What the vault needs from a KEK holder; a KMS adapter implements exactly this."""

    @property
    def kek_id(self) -> str:
        """A stable, non-secret identifier of the KEK, stored beside every wrapped key."""
        ...

    @property
    def source(self) -> str:
        """Where the KEK comes from, for ``doctor`` (never the key itself)."""
        ...

    def wrap(self, key: bytes, context: bytes) -> bytes:
        """Encrypt ``key`` under the KEK, bound to ``context`` (the wrapped key's identity)."""
        ...

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        """Reverse :meth:`wrap`; fail if the context or the KEK differs."""
        ...


class _LocalKek:
    """AES-256-GCM key wrapping with a KEK held in this process's memory."""

    def __init__(self, material: bytes, source: str) -> None:
        if len(material) != KEY_BYTES:
            raise KeyError_(f"{source}: a KEK is {KEY_BYTES} bytes, this one is {len(material)}")
        self._aead = AESGCM(material)
        self._kek_id = hashlib.sha256(b"parcelguard/kek-id\x00" + material).hexdigest()[:16]
        self._source = source

    @property
    def kek_id(self) -> str:
        return self._kek_id

    @property
    def source(self) -> str:
        return self._source

    def wrap(self, key: bytes, context: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, key, context)

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        try:
            return self._aead.decrypt(wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:], context)
        except InvalidTag:
            raise KeyError_(
                f"a stored key does not unwrap under the KEK from {self._source} "
                "(wrong key file, or the row was tampered with)"
            ) from None


class LocalKeyFile(_LocalKek):
    """The default: a base64 KEK in a file only its owner can read."""

    def __init__(self, path: Path) -> None:
        super().__init__(read_key_file(path), f"key file {path}")
        self.path = path


class EnvironmentKek(_LocalKek):
    """A base64 KEK in an environment variable (tests, secret mounts)."""

    def __init__(self, variable: str, value: str) -> None:
        super().__init__(_decode(value, variable), f"environment variable {variable}")


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def encode_key(material: bytes) -> str:
    return base64.b64encode(material).decode("ascii")


def create_key_file(path: Path) -> None:
    """Write a fresh KEK to ``path`` with mode 0600; never overwrite an existing one."""
    write_secret_text(path, encode_key(new_key()))


def read_key_file(path: Path) -> bytes:
    return _decode(read_secret_text(path), f"key file {path}")


def read_secret_text(path: Path) -> str:
    """The text of a key file that only its owner can read; refuses an exposed one."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise KeyError_(f"key file {path}: not found (run `parcelguard init`)") from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyError_(
            f"key file {path}: mode {stat.S_IMODE(info.st_mode):04o} lets others read it; "
            f"run `chmod 600 {path}`"
        )
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyError_(f"key file {path}: cannot read it ({type(exc).__name__})") from None


def write_secret_text(path: Path, text: str) -> None:
    """Create a key file with mode 0600; never overwrite an existing one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyError_(f"key file {path}: already exists; refusing to overwrite a key") from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _decode(text: str, source: str) -> bytes:
    try:
        material = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyError_(f"{source}: not base64") from None
    if len(material) != KEY_BYTES:
        raise KeyError_(f"{source}: a KEK is {KEY_BYTES} bytes, this one is {len(material)}")
    return material


def random_key_file(path: Path, size: int, what: str, *, create: bool) -> bytes:
    """A ``size``-byte random key in its own 0600 file (base64), made first with ``create``.

    Creating never overwrites: if another process creates the file first, its key is read,
    so every process of one installation uses the same key. For the keys that are not
    wrapped by the KEK because they open no recipient data (label tokens, API tokens).
    """
    if create and not path.exists():
        try:
            write_secret_text(path, base64.b64encode(secrets.token_bytes(size)).decode())
        except KeyError_:
            if not path.exists():  # not a lost race but a real failure
                raise
    text = read_secret_text(path)
    try:
        material = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise KeyError_(f"key file {path}: not base64") from None
    if len(material) != size:
        raise KeyError_(f"key file {path}: {what} is {size} bytes, this one is {len(material)}")
    return material
