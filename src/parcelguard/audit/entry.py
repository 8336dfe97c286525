"""Audit entries and their canonical bytes: what a Merkle leaf commits to.

The encoding is fixed so that an investigator can re-derive every leaf hash from the entries
alone, in any language:

    version      1 byte   0x01
    sequence     8 bytes  unsigned big-endian, the entry's index in the log
    time         8 bytes  signed big-endian, microseconds since 1970-01-01T00:00:00Z
    then twelve text fields in this order, each a 1-byte length and that many ASCII bytes:
    actor, action, waybill_no, field, purpose, decision, reason, policy_id, request_id,
    channel, device, ip

``ip`` is the network address the request came from (IPv4 or IPv6 text): the employee's
network, not the recipient's, and the exchange format's ``accesses.ip`` needs it.

Text fields may hold only ASCII letters, digits and ``_ . : - / + @ #`` (at most 128 bytes):
ids and codes, never prose. That is a structural guarantee that no name or street address
(Chinese text) can enter the log, and a waybill field shaped like a mainland mobile number is
refused too. Decoding is strict: a wrong version, a short or long buffer or a bad character
is an error, so two different byte strings never decode to the same entry.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from operator import attrgetter

from parcelguard.core.phone import looks_like_mobile

VERSION = 1
MAX_TEXT = 128
_HEADER = struct.Struct(">BQq")
_TEXT = re.compile(rb"[A-Za-z0-9_.:\-/+@#]*")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class EntryError(ValueError):
    """An entry that cannot be encoded or bytes that are not an entry; never quotes values."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    sequence: int
    time_us: int
    actor: str
    action: str
    waybill_no: str = ""
    field: str = ""
    purpose: str = ""
    decision: str = ""
    reason: str = ""
    policy_id: str = ""
    request_id: str = ""
    channel: str = ""
    device: str = ""
    ip: str = ""

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.time_us / 1_000_000, UTC)

    @classmethod
    def at(cls, sequence: int, moment: datetime, **text: str) -> AuditEntry:
        if moment.tzinfo is None:
            raise EntryError("time must carry a time zone")
        delta = moment - _EPOCH
        micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        return cls(sequence, micros, **text)


TEXT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(AuditEntry))[2:]


def encode_entry(entry: AuditEntry) -> bytes:
    return entry_bytes(entry.sequence, entry.time_us, encode_body(entry))


@dataclass(frozen=True, slots=True)
class EncodedEntry:
    """An entry checked and encoded but for its sequence number, which the log assigns."""

    time_us: int
    body: bytes

    def at(self, sequence: int) -> bytes:
        return entry_bytes(sequence, self.time_us, self.body)


def prepare_entry(entry: AuditEntry) -> EncodedEntry:
    if not -(2**63) <= entry.time_us < 2**63:
        raise EntryError("time is out of range")
    return EncodedEntry(entry.time_us, encode_body(entry))


def entry_bytes(sequence: int, time_us: int, body: bytes) -> bytes:
    """The canonical bytes of an entry whose text fields :func:`encode_body` already encoded.

    The log assigns sequence numbers inside its write transaction; encoding and checking the
    text before that (in the caller's thread, see ``group_commit``) keeps the transaction short
    and lets one bad entry be refused alone instead of failing the batch it would have joined.
    """
    if not 0 <= sequence < 2**64:
        raise EntryError("sequence must be an unsigned 64-bit number")
    if not -(2**63) <= time_us < 2**63:
        raise EntryError("time is out of range")
    return _HEADER.pack(VERSION, sequence, time_us) + body


_TEXT_VALUES = attrgetter(*TEXT_FIELDS)
_JOINED = re.compile(rb"[A-Za-z0-9_.:\-/+@#\x00]*")  # _TEXT plus the NUL that joins fields
_LENGTH_BYTE = [bytes((n,)) for n in range(MAX_TEXT + 1)]  # a longer field has no entry


def encode_body(entry: AuditEntry) -> bytes:
    """The twelve length-prefixed text fields; :class:`EntryError` names the first bad one.

    The fast path checks all fields with one regular expression over their NUL-joined bytes
    (the log encodes tens of thousands of entries a second); only a refused entry is looked at
    field by field, to say which field broke which rule.
    """
    values: tuple[str, ...] = _TEXT_VALUES(entry)
    if looks_like_mobile(entry.waybill_no):
        raise EntryError("waybill_no looks like a phone number; the audit log holds no phones")
    try:
        raw = "\x00".join(values).encode("ascii")
        if not _JOINED.fullmatch(raw):
            raise ValueError
        parts = raw.split(b"\x00")
        if len(parts) != len(TEXT_FIELDS):  # a field held a NUL
            raise ValueError
        lb = _LENGTH_BYTE
        return b"".join([piece for part in parts for piece in (lb[len(part)], part)])
    except (ValueError, IndexError):
        raise _first_bad_field(values) from None


def _first_bad_field(values: tuple[str, ...]) -> EntryError:
    for name, value in zip(TEXT_FIELDS, values, strict=True):
        raw = value.encode("ascii", errors="replace")
        if len(raw) > MAX_TEXT:
            return EntryError(f"{name} is longer than {MAX_TEXT} bytes")
        if not _TEXT.fullmatch(raw):
            return EntryError(f"{name} may hold only ASCII letters, digits and _ . : - / + @ #")
    return EntryError("the entry cannot be encoded")


def decode_entry(data: bytes) -> AuditEntry:
    """The entry ``data`` encodes; :class:`EntryError` says what is wrong with it.

    The fast path walks the twelve lengths and checks all text with one regular expression
    over the NUL-joined fields (export decodes millions of entries); a refused buffer is
    looked at field by field only to say what is wrong.
    """
    if len(data) < _HEADER.size:
        raise EntryError(f"an entry has at least {_HEADER.size} bytes, this has {len(data)}")
    version, sequence, time_us = _HEADER.unpack_from(data)
    if version != VERSION:
        raise EntryError(f"unknown entry version {version}")
    offset, parts = _HEADER.size, []
    try:
        for _ in TEXT_FIELDS:
            length = data[offset]
            parts.append(data[offset + 1 : offset + 1 + length])
            offset += 1 + length
    except IndexError:
        raise _first_bad_frame(data) from None
    joined = b"\x00".join(parts)
    if offset != len(data) or not (_JOINED.fullmatch(joined) and max(map(len, parts)) <= MAX_TEXT):
        raise _first_bad_frame(data)
    entry = AuditEntry(sequence, time_us, *joined.decode("ascii").split("\x00"))
    if looks_like_mobile(entry.waybill_no):
        raise EntryError("waybill_no looks like a phone number")
    return entry


def _first_bad_frame(data: bytes) -> EntryError:
    """Why ``data`` is not an entry, field by field (the slow path of :func:`decode_entry`)."""
    offset = _HEADER.size
    for name in TEXT_FIELDS:
        if offset >= len(data):
            return EntryError(f"the entry ends before {name}")
        length = data[offset]
        raw = data[offset + 1 : offset + 1 + length]
        if len(raw) != length:
            return EntryError(f"the entry ends inside {name}")
        if length > MAX_TEXT or not _TEXT.fullmatch(raw):
            return EntryError(f"{name} holds bytes an entry may not hold")
        offset += 1 + length
    if offset != len(data):
        return EntryError(f"{len(data) - offset} bytes follow the last field")
    return EntryError("the entry cannot be decoded")
