"""C2SP transparency-log checkpoints (c2sp.org/tlog-checkpoint) and Ed25519 witness
cosignatures (c2sp.org/tlog-cosignature, signature type 0x04).

A checkpoint is the signed note that commits the audit log to one Merkle tree head: origin,
tree size and root hash, one per line. Witnesses cosign a checkpoint to say "this is the
largest tree I have seen for this log, and it is consistent with what I saw before", which is
what stops the log from showing different histories to different readers.

Parsing is strict (no leading zeros, exactly 32 hash bytes, bare newlines) so that one tree head
has exactly one body: a signature over it can then never be replayed over a look-alike.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from parcelguard.audit.note import (
    ED25519_KEY_SIZE,
    ED25519_SIGNATURE_SIZE,
    KeyFormatError,
    MalformedNoteError,
    NoteError,
    OpenedNote,
    SignatureLine,
    Signer,
    Verifier,
    check_name,
    decode_base64,
    format_verifier_key,
    key_hash,
    open_note,
    parse_signature_line,
    parse_verifier_key,
)

SIG_TYPE_COSIGNATURE_V1 = 0x04
HASH_SIZE = 32
MAX_TREE_SIZE = (1 << 64) - 1
MAX_TIMESTAMP = (1 << 63) - 1
_TIMESTAMP_SIZE = 8
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")  # [0-9], not \d: no other scripts' digits
_CONTROL = re.compile(r"[\x00-\x1f]")
_CONTROL_NAMES = {"\r": "a carriage return", "\t": "a tab", "\n": "a newline"}


class CheckpointError(ValueError):
    """A checkpoint body or value that is not valid; the message says which part and why."""


class CosignatureError(CheckpointError):
    """A witness cosignature that is malformed, by another key, or does not verify."""


def _line_problem(text: str, what: str) -> str | None:
    if not text:
        return f"the {what} is empty"
    bad = _CONTROL.search(text)
    if bad is not None:
        char = bad.group()
        name = _CONTROL_NAMES.get(char, f"control character U+{ord(char):04X}")
        return f"the {what} contains {name}"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return f"the {what} is not valid UTF-8"
    return None


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One tree head of a log: its origin, its size in leaves and its RFC 6962 root hash.

    ``extensions`` are the optional opaque lines after the root hash; they are kept and signed
    but carry no meaning for witnesses.
    """

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "extensions", tuple(self.extensions))
        if (problem := _line_problem(self.origin, "origin")) is not None:
            raise CheckpointError(problem)
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise CheckpointError("the tree size must be an integer")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise CheckpointError("the tree size must be an unsigned 64-bit number")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise CheckpointError(f"the root hash must be {HASH_SIZE} bytes")
        for number, line in enumerate(self.extensions, start=1):
            if (problem := _line_problem(line, f"extension line {number}")) is not None:
                raise CheckpointError(problem)

    def body(self) -> str:
        """The note body: origin, size, base64 root hash and extensions, one per line."""
        root = base64.b64encode(self.root_hash).decode("ascii")
        return "".join(
            f"{line}\n" for line in (self.origin, str(self.size), root, *self.extensions)
        )


def parse_checkpoint(body: str) -> Checkpoint:
    """Parse a checkpoint body strictly; the result's :meth:`Checkpoint.body` equals ``body``."""
    if not body.endswith("\n"):
        raise CheckpointError("a checkpoint body must end with a newline")
    lines = body[:-1].split("\n")
    names = ["origin", "tree size", "root hash"]
    for number, line in enumerate(lines, start=1):
        what = names[number - 1] if number <= len(names) else "extension line"
        if (problem := _line_problem(line, f"{what} (line {number})")) is not None:
            raise CheckpointError(problem)
    if len(lines) < 3:
        raise CheckpointError(
            "a checkpoint body has at least three lines: origin, tree size and root hash"
        )
    origin, size_text, root_text, *extensions = lines
    if not _DECIMAL.fullmatch(size_text):
        raise CheckpointError(
            f"tree size {size_text[:30]!r} is not a decimal number without leading zeros"
        )
    size = int(size_text)
    if size > MAX_TREE_SIZE:
        raise CheckpointError("the tree size does not fit in 64 bits")
    try:
        root = decode_base64(root_text, "the root hash")
    except MalformedNoteError as exc:
        raise CheckpointError(str(exc)) from None
    if len(root) != HASH_SIZE:
        raise CheckpointError(f"the root hash has {len(root)} bytes, not {HASH_SIZE}")
    return Checkpoint(origin, size, root, tuple(extensions))


def sign_checkpoint(signer: Signer, checkpoint: Checkpoint) -> str:
    """The checkpoint as a signed note, signed by the log's key."""
    return signer.sign(checkpoint.body())


def open_checkpoint(
    note: str | bytes, log_verifier: Verifier, *, origin: str | None = None
) -> tuple[Checkpoint, OpenedNote]:
    """Verify the log's signature on a checkpoint note and parse its body.

    The log's own signature is required; other signatures (witnesses) are returned as unknown
    in the :class:`OpenedNote` for :func:`verify_cosignature`. When ``origin`` is given the
    checkpoint must be for that log, so a checkpoint of another log signed with the same key
    is not taken for ours.
    """
    opened = open_note(note, [log_verifier])
    checkpoint = parse_checkpoint(opened.body)
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(f"the checkpoint is for origin {checkpoint.origin!r}, not {origin!r}")
    return checkpoint, opened


def cosignature_message(checkpoint: Checkpoint, timestamp: int) -> bytes:
    """What a cosignature/v1 signs: a header line, a time line, then the checkpoint body."""
    _check_timestamp(timestamp)
    return f"cosignature/v1\ntime {timestamp}\n{checkpoint.body()}".encode()


def _check_timestamp(timestamp: int) -> None:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise CheckpointError("a cosignature timestamp must be an integer")
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise CheckpointError("a cosignature timestamp must be between 0 and 2^63 - 1 seconds")


@dataclass(frozen=True, slots=True)
class CosignatureVerifier:
    """A trusted witness key for cosignature/v1: its name and 32-byte Ed25519 public key."""

    name: str
    public_key: bytes
    key_hash: int = field(init=False)

    def __post_init__(self) -> None:
        check_name(self.name)
        if len(self.public_key) != ED25519_KEY_SIZE:
            raise KeyFormatError(f"an Ed25519 public key has {ED25519_KEY_SIZE} bytes")
        typed = bytes((SIG_TYPE_COSIGNATURE_V1,)) + self.public_key
        object.__setattr__(self, "key_hash", key_hash(self.name, typed))

    @classmethod
    def from_key(cls, text: str) -> CosignatureVerifier:
        """Parse ``<name>+<hash hex>+<base64(0x04 || public key)>``."""
        parsed = parse_verifier_key(text)
        if parsed.sig_type != SIG_TYPE_COSIGNATURE_V1:
            raise KeyFormatError(
                f"verifier key {parsed.name} has signature type 0x{parsed.sig_type:02x}, "
                "not a cosignature/v1 witness key (0x04)"
            )
        return cls(parsed.name, parsed.public_key)

    def verifier_key(self) -> str:
        return format_verifier_key(self.name, SIG_TYPE_COSIGNATURE_V1, self.public_key)

    def verify(self, line: str, checkpoint: Checkpoint) -> int:
        """Check that ``line`` is this witness's cosignature of ``checkpoint``; return its time.

        Raises :class:`CosignatureError` naming the problem.
        """
        try:
            parsed = parse_signature_line(line)
        except NoteError as exc:
            raise CosignatureError(f"not a signature line: {exc}") from None
        key = f"{self.name}+{self.key_hash:08x}"
        if parsed.name != self.name:
            raise CosignatureError(f"the cosignature is by {parsed.name!r}, not by {key}")
        if parsed.key_hash != self.key_hash:
            raise CosignatureError(
                f"the cosignature is by key hash {parsed.key_hash:08x}, not by {key}"
            )
        if len(parsed.signature) != _TIMESTAMP_SIZE + ED25519_SIGNATURE_SIZE:
            raise CosignatureError(
                f"the cosignature by {key} has {len(parsed.signature)} bytes after the key hash,"
                f" not {_TIMESTAMP_SIZE} timestamp and {ED25519_SIGNATURE_SIZE} signature bytes"
            )
        timestamp = int.from_bytes(parsed.signature[:_TIMESTAMP_SIZE], "big")
        if timestamp > MAX_TIMESTAMP:
            raise CosignatureError(f"the cosignature by {key} has a timestamp above 2^63 - 1")
        message = cosignature_message(checkpoint, timestamp)
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(
                parsed.signature[_TIMESTAMP_SIZE:], message
            )
        except InvalidSignature:
            raise CosignatureError(
                f"the cosignature by {key} does not verify for this checkpoint and time "
                f"{timestamp}: it is for another checkpoint or it was altered"
            ) from None
        return timestamp


class Cosigner:
    """A witness's cosignature/v1 signing key; never shows the private key in its repr."""

    __slots__ = ("_private_key", "key_hash", "name", "public_key")

    def __init__(self, private_key: Ed25519PrivateKey, name: str) -> None:
        self._private_key = private_key
        self.name = check_name(name)
        self.public_key = private_key.public_key().public_bytes_raw()
        self.key_hash = key_hash(name, bytes((SIG_TYPE_COSIGNATURE_V1,)) + self.public_key)

    def __repr__(self) -> str:
        return f"Cosigner(name={self.name!r}, key_hash=0x{self.key_hash:08x})"

    @classmethod
    def generate(cls, name: str) -> Cosigner:
        return cls(Ed25519PrivateKey.generate(), name)

    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self.name, self.public_key)

    def verifier_key(self) -> str:
        return self.verifier().verifier_key()

    def cosign(self, checkpoint: Checkpoint, timestamp: int) -> str:
        """The cosignature line (final newline included) for ``checkpoint`` at ``timestamp``.

        ``timestamp`` is POSIX seconds; the caller supplies it so that cosigning stays a pure
        function and tests can pin it.
        """
        signature = self._private_key.sign(cosignature_message(checkpoint, timestamp))
        payload = timestamp.to_bytes(_TIMESTAMP_SIZE, "big") + signature
        return SignatureLine(self.name, self.key_hash, payload).text


def verify_cosignature(
    line: str, checkpoint: Checkpoint, cosigner_verifier_key: str | CosignatureVerifier
) -> int:
    """Verify a witness cosignature line over ``checkpoint``; return its POSIX timestamp.

    Raises :class:`CosignatureError` (or :class:`KeyFormatError` for a bad key string).
    """
    verifier = (
        cosigner_verifier_key
        if isinstance(cosigner_verifier_key, CosignatureVerifier)
        else CosignatureVerifier.from_key(cosigner_verifier_key)
    )
    return verifier.verify(line, checkpoint)
