"""C2SP signed notes (c2sp.org/signed-note), the format of Go's golang.org/x/mod/sumdb/note.

A note is UTF-8 text (the body, ending in a newline), a blank line, and one or more signature
lines ``— <key name> <base64(4-byte key hash || signature)>``. The audit log publishes its
checkpoints in this format so that anyone, with any conforming implementation, can check what
the log signed; we follow the specification byte for byte rather than inventing our own.

Verification fails closed: a note is only opened when a known key's signature verifies, and a
known key whose signature does not verify is treated as forgery, never skipped. Signatures by
keys we do not know (witness cosignatures, rotated keys) are kept so that they can be passed on.

Only Ed25519 (signature type 0x01) is implemented here; tlog-cosignature (type 0x04) lives in
:mod:`parcelguard.audit.checkpoint`, which reuses the key and line helpers below.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIG_TYPE_ED25519 = 0x01
SIGNATURE_PREFIX = "\u2014 "  # em dash, space
MAX_NOTE_BYTES = 1 << 20
MAX_SIGNATURES = 100  # what Go's note.Open accepts; the spec requires at least 16
ED25519_KEY_SIZE = 32
ED25519_SIGNATURE_SIZE = 64
_KEY_HASH_SIZE = 4
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_HASH_HEX = re.compile(r"[0-9a-f]{8}")


class NoteError(ValueError):
    """A note, a signature line or a key that cannot be trusted; the message says why."""


class MalformedNoteError(NoteError):
    """The text is not a well-formed signed note (or the line not a signature line)."""


class InvalidSignatureError(NoteError):
    """A known key's signature does not verify: the note was altered or forged."""


class UnverifiedNoteError(NoteError):
    """The note is well formed but no known key signed it, so its body must be ignored."""


class KeyFormatError(NoteError):
    """A key name, verifier key or signer key string that is not valid."""


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a key name, or None if it can.

    The name sits between spaces on a signature line and between ``+`` in key strings, so
    either character would make lines and keys ambiguous.
    """
    if not name:
        return "a key name must not be empty"
    if any(ch.isspace() for ch in name):
        return f"key name {name!r} contains a space"
    if "+" in name:
        return f"key name {name!r} contains '+'"
    if _CONTROL.search(name) or "\n" in name:
        return f"key name {name!r} contains a control character"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return f"key name {name!r} is not valid UTF-8"
    return None


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid key name; raise :class:`KeyFormatError` otherwise."""
    problem = name_problem(name)
    if problem is not None:
        raise KeyFormatError(problem)
    return name


def key_hash(name: str, typed_key: bytes) -> int:
    """The 32-bit key ID: SHA-256(name || "\\n" || type byte || public key)[:4], big-endian.

    The type byte is the first byte of ``typed_key``; including it means the same key can be
    used for two signature types without the IDs colliding.
    """
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + typed_key).digest()
    return int.from_bytes(digest[:_KEY_HASH_SIZE], "big")


def decode_base64(text: str, what: str) -> bytes:
    """Strict standard base64: padded, no stray characters, one encoding per byte string.

    Accepting only the canonical encoding means two different lines never carry the same
    signature, so duplicate detection by text is sound.
    """
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise MalformedNoteError(f"{what} is not valid base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise MalformedNoteError(f"{what} is not canonical base64")
    return raw


class VerifierKey(NamedTuple):
    """A parsed verifier key string ``<name>+<hash hex>+<base64(type || public key)>``."""

    name: str
    key_hash: int
    sig_type: int
    public_key: bytes


def format_verifier_key(name: str, sig_type: int, public_key: bytes) -> str:
    """Encode a verifier key string, as Go's note.NewEd25519VerifierKey does for type 0x01."""
    typed = bytes((sig_type,)) + public_key
    digest = key_hash(check_name(name), typed)
    return f"{name}+{digest:08x}+{base64.b64encode(typed).decode('ascii')}"


def parse_verifier_key(text: str) -> VerifierKey:
    """Parse any verifier key string and check that its key hash matches its key.

    The signature type is returned, not checked: callers accept only the type they verify.
    """
    parts = text.split("+", 2)  # the base64 part may itself contain '+'
    if len(parts) != 3:
        raise KeyFormatError("a verifier key has the form <name>+<8 hex digits>+<base64 key>")
    name, hash_hex, key_b64 = parts
    check_name(name)
    if not _HASH_HEX.fullmatch(hash_hex):
        raise KeyFormatError(f"key hash {hash_hex!r} is not 8 lowercase hex digits")
    try:
        typed = decode_base64(key_b64, "the verifier key")
    except MalformedNoteError as exc:
        raise KeyFormatError(str(exc)) from None
    if len(typed) < 2:
        raise KeyFormatError("the verifier key holds no public key")
    if key_hash(name, typed) != int(hash_hex, 16):
        raise KeyFormatError(
            f"key hash {hash_hex} does not match the key; the verifier key was altered"
        )
    return VerifierKey(name, int(hash_hex, 16), typed[0], typed[1:])


@dataclass(frozen=True, slots=True)
class SignatureLine:
    """One signature line: key name, key hash and the signature bytes after the hash."""

    name: str
    key_hash: int
    signature: bytes

    def __post_init__(self) -> None:
        problem = name_problem(self.name)
        if problem is not None:
            raise MalformedNoteError(f"signature line: {problem}")
        if not 0 <= self.key_hash < 1 << 32:
            raise MalformedNoteError("a key hash is an unsigned 32-bit number")
        if not self.signature:
            raise MalformedNoteError(f"the signature by {self.name} is empty")

    @property
    def text(self) -> str:
        """The line as it appears in a note, final newline included."""
        payload = self.key_hash.to_bytes(_KEY_HASH_SIZE, "big") + self.signature
        return f"{SIGNATURE_PREFIX}{self.name} {base64.b64encode(payload).decode('ascii')}\n"


def parse_signature_line(line: str) -> SignatureLine:
    """Parse ``— <name> <base64>`` (with or without its final newline).

    Raises :class:`MalformedNoteError`; the line's signature is not verified here.
    """
    line = line.removesuffix("\n")
    if not line.startswith(SIGNATURE_PREFIX):
        raise MalformedNoteError(f"signature line {line[:40]!r} does not start with '— '")
    name, space, payload_b64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not space:
        raise MalformedNoteError(f"signature line {line[:40]!r} has no space after the name")
    if (problem := name_problem(name)) is not None:
        raise MalformedNoteError(f"signature line: {problem}")
    payload = decode_base64(payload_b64, f"the signature by {name}")
    if len(payload) <= _KEY_HASH_SIZE:
        raise MalformedNoteError(f"the signature by {name} is too short to hold a key hash")
    return SignatureLine(
        name, int.from_bytes(payload[:_KEY_HASH_SIZE], "big"), payload[_KEY_HASH_SIZE:]
    )


@dataclass(frozen=True, slots=True)
class Verifier:
    """A trusted Ed25519 note key: its name and 32-byte public key."""

    name: str
    public_key: bytes
    key_hash: int = field(init=False)

    def __post_init__(self) -> None:
        check_name(self.name)
        if len(self.public_key) != ED25519_KEY_SIZE:
            raise KeyFormatError(
                f"an Ed25519 public key has {ED25519_KEY_SIZE} bytes, not {len(self.public_key)}"
            )
        typed = bytes((SIG_TYPE_ED25519,)) + self.public_key
        object.__setattr__(self, "key_hash", key_hash(self.name, typed))

    @classmethod
    def from_key(cls, text: str) -> Verifier:
        """Parse a verifier key string ``<name>+<hash hex>+<base64(0x01 || public key)>``."""
        parsed = parse_verifier_key(text)
        if parsed.sig_type != SIG_TYPE_ED25519:
            hint = (
                " (a tlog-cosignature witness key: use checkpoint.CosignatureVerifier)"
                if parsed.sig_type == 0x04
                else ""
            )
            raise KeyFormatError(
                f"verifier key {parsed.name} has signature type 0x{parsed.sig_type:02x}, "
                f"not Ed25519 (0x01){hint}"
            )
        return cls(parsed.name, parsed.public_key)

    def verifier_key(self) -> str:
        return format_verifier_key(self.name, SIG_TYPE_ED25519, self.public_key)

    def verify(self, body: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's Ed25519 signature of ``body``."""
        if len(signature) != ED25519_SIGNATURE_SIZE:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, body)
        except (InvalidSignature, ValueError):
            return False
        return True


class Signer:
    """An Ed25519 note signing key with its name; never shows the private key in its repr."""

    __slots__ = ("_private_key", "key_hash", "name", "public_key")

    def __init__(self, private_key: Ed25519PrivateKey, name: str) -> None:
        self._private_key = private_key
        self.name = check_name(name)
        self.public_key = private_key.public_key().public_bytes_raw()
        self.key_hash = key_hash(name, bytes((SIG_TYPE_ED25519,)) + self.public_key)

    def __repr__(self) -> str:
        return f"Signer(name={self.name!r}, key_hash=0x{self.key_hash:08x})"

    @classmethod
    def generate(cls, name: str) -> Signer:
        return cls(Ed25519PrivateKey.generate(), name)

    @classmethod
    def from_signer_key(cls, text: str) -> Signer:
        """Parse ``PRIVATE+KEY+<name>+<hash hex>+<base64(0x01 || 32-byte seed)>``.

        The hash is of the public key, so it is checked after deriving that key: a signer key
        whose hash does not match was altered and is refused.
        """
        parts = text.split("+", 4)  # the base64 part may itself contain '+'
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise KeyFormatError(
                "a signer key has the form PRIVATE+KEY+<name>+<8 hex digits>+<base64 seed>"
            )
        name, hash_hex, seed_b64 = parts[2:]
        check_name(name)
        if not _HASH_HEX.fullmatch(hash_hex):
            raise KeyFormatError(f"key hash {hash_hex!r} is not 8 lowercase hex digits")
        try:
            typed = decode_base64(seed_b64, "the signer key")
        except MalformedNoteError as exc:
            raise KeyFormatError(str(exc)) from None
        if not typed or typed[0] != SIG_TYPE_ED25519:
            raise KeyFormatError("the signer key is not an Ed25519 (type 0x01) key")
        if len(typed) != 1 + ED25519_KEY_SIZE:
            raise KeyFormatError(f"an Ed25519 seed has {ED25519_KEY_SIZE} bytes")
        signer = cls(Ed25519PrivateKey.from_private_bytes(typed[1:]), name)
        if signer.key_hash != int(hash_hex, 16):
            raise KeyFormatError(
                f"key hash {hash_hex} does not match the key; the signer key was altered"
            )
        return signer

    def signer_key(self) -> str:
        """The private signer key string; keep it secret."""
        seed = bytes((SIG_TYPE_ED25519,)) + self._private_key.private_bytes_raw()
        return f"PRIVATE+KEY+{self.name}+{self.key_hash:08x}+{base64.b64encode(seed).decode()}"

    def verifier(self) -> Verifier:
        return Verifier(self.name, self.public_key)

    def verifier_key(self) -> str:
        return self.verifier().verifier_key()

    def signature_line(self, body: str) -> str:
        """This key's signature line for ``body``, to add to a note with another signer's."""
        data = _encode_body(body)
        return SignatureLine(self.name, self.key_hash, self._private_key.sign(data)).text

    def sign(self, body: str) -> str:
        """A new signed note holding ``body`` and this key's signature."""
        note = body + "\n" + self.signature_line(body)
        if len(note.encode("utf-8")) > MAX_NOTE_BYTES:
            raise MalformedNoteError(f"the signed note would be larger than {MAX_NOTE_BYTES} bytes")
        return note


@dataclass(frozen=True, slots=True)
class OpenedNote:
    """A note whose body a known key vouched for.

    ``unknown`` lists (name, key hash) of signatures by keys the caller did not pass, and
    ``unknown_lines`` the same signatures as lines (final newline included), in the same order,
    ready for :func:`add_signatures` or a cosignature check.
    """

    body: str
    verified_by: list[str]
    unknown: list[tuple[str, int]]
    unknown_lines: list[str]


def open_note(note: str | bytes, verifiers: Iterable[Verifier]) -> OpenedNote:
    """Parse ``note`` and verify it against the known ``verifiers``.

    Raises :class:`MalformedNoteError` for a malformed note, :class:`InvalidSignatureError` if
    any signature by a known key fails to verify (even when another one verifies), and
    :class:`UnverifiedNoteError` if no known key signed it.
    """
    body, lines = _split_note(note)
    known = _index(verifiers)
    data = body.encode("utf-8")
    verified_by: list[str] = []
    unknown: list[tuple[str, int]] = []
    unknown_lines: list[str] = []
    for text, line in lines:
        verifier = known.get((line.name, line.key_hash))
        if verifier is None:
            if text not in unknown_lines:
                unknown.append((line.name, line.key_hash))
                unknown_lines.append(text)
            continue
        if not verifier.verify(data, line.signature):
            raise InvalidSignatureError(
                f"the signature by known key {line.name}+{line.key_hash:08x} does not verify: "
                "the note was altered or forged"
            )
        if line.name not in verified_by:
            verified_by.append(line.name)
    if not verified_by:
        wanted = ", ".join(sorted(f"{n}+{h:08x}" for n, h in known)) or "none given"
        found = ", ".join(f"{n}+{h:08x}" for n, h in unknown)
        raise UnverifiedNoteError(
            f"the note has no signature by a known key (known: {wanted}; signed by: {found})"
        )
    return OpenedNote(body, verified_by, unknown, unknown_lines)


def add_signatures(note: str, more_signature_lines: Iterable[str]) -> str:
    """Append signature lines (e.g. witness cosignatures) to a well-formed note.

    Nothing is verified here; the reader verifies what it knows. A line already present is
    skipped; a different line from a key that already signed is refused, because one of the two
    must be wrong and choosing silently would hide it.
    """
    body, existing = _split_note(note)
    texts = [text for text, _ in existing]
    by_key = {(line.name, line.key_hash): text for text, line in existing}
    for raw in more_signature_lines:
        line = parse_signature_line(raw)
        text = line.text  # parsing is strict, so this is ``raw`` with its final newline
        previous = by_key.get((line.name, line.key_hash))
        if previous == text:
            continue
        if previous is not None:
            raise NoteError(
                f"the note already has a different signature by {line.name}+"
                f"{line.key_hash:08x}; remove it before adding another"
            )
        by_key[(line.name, line.key_hash)] = text
        texts.append(text)
    result = body + "\n" + "".join(texts)
    _check_limits(result, len(texts))
    return result


def _index(verifiers: Iterable[Verifier]) -> dict[tuple[str, int], Verifier]:
    known: dict[tuple[str, int], Verifier] = {}
    for verifier in verifiers:
        key = (verifier.name, verifier.key_hash)
        other = known.setdefault(key, verifier)
        if other.public_key != verifier.public_key:
            raise NoteError(
                f"two different known keys share the name and hash {key[0]}+{key[1]:08x}; "
                "the list of trusted keys is wrong"
            )
    return known


def _encode_body(body: str) -> bytes:
    """Check that ``body`` may be a note's text and return its bytes (what is signed)."""
    if not body.endswith("\n"):
        raise MalformedNoteError("a note's body must end with a newline")
    _check_control(body)
    try:
        return body.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedNoteError("the note's body is not valid UTF-8") from None


def _check_control(text: str) -> None:
    bad = _CONTROL.search(text)
    if bad is not None:
        raise MalformedNoteError(
            f"control character U+{ord(bad.group()):04X} at character {bad.start()}; "
            "notes may contain no control character but newline"
        )


def _check_limits(note: str, signatures: int) -> None:
    if len(note.encode("utf-8")) > MAX_NOTE_BYTES:
        raise MalformedNoteError(f"the note is larger than {MAX_NOTE_BYTES} bytes")
    if signatures > MAX_SIGNATURES:
        raise MalformedNoteError(f"the note has more than {MAX_SIGNATURES} signatures")


def _split_note(note: str | bytes) -> tuple[str, list[tuple[str, SignatureLine]]]:
    """Split a note into body and parsed signature lines, checking only its syntax."""
    if isinstance(note, bytes):
        if len(note) > MAX_NOTE_BYTES:
            raise MalformedNoteError(f"the note is larger than {MAX_NOTE_BYTES} bytes")
        try:
            text = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedNoteError(f"the note is not UTF-8 (byte {exc.start})") from None
    else:
        text = note
        if len(text) > MAX_NOTE_BYTES:  # cheap bound first: a character is at least a byte
            raise MalformedNoteError(f"the note is larger than {MAX_NOTE_BYTES} bytes")
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:
            raise MalformedNoteError("the note is not valid UTF-8") from None
        if size > MAX_NOTE_BYTES:
            raise MalformedNoteError(f"the note is larger than {MAX_NOTE_BYTES} bytes")
    _check_control(text)
    split = text.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("the note has no blank line before its signatures")
    body, block = text[: split + 1], text[split + 2 :]
    if not block:
        raise MalformedNoteError("the note has no signature lines")
    if not block.endswith("\n"):
        raise MalformedNoteError("the note's last signature line does not end with a newline")
    raw_lines = block[:-1].split("\n")
    if len(raw_lines) > MAX_SIGNATURES:
        raise MalformedNoteError(f"the note has more than {MAX_SIGNATURES} signatures")
    return body, [(raw + "\n", parse_signature_line(raw)) for raw in raw_lines]
