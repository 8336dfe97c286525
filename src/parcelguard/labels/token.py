"""The opaque token in a label's QR code: an encrypted, authenticated, expiring reference.

Anyone can photograph a label, so the QR code must say nothing by itself: not the recipient,
not even which waybill it points to. The token is AES-256-GCM ciphertext under a key that
only the carrier holds, so it can be neither read nor forged nor altered; redeeming it is the
reveal service's job, which checks the device and the purpose and writes the audit log.

Format (version 1), base64url without padding::

    version (1 byte, 0x01) || nonce (12 bytes) || AES-256-GCM(key, nonce, plaintext, aad)

    plaintext = token_id (16 random bytes) || waybill_no (UTF-8, 1..32 bytes)
                || issued_at (u64 big-endian, POSIX seconds) || expires_at (u64, same)
    aad       = b"parcelguard/label-token" || version

The waybill number sits between two fixed-size parts, so it needs no length byte. With the
carrier's 14-character numbers (``PG`` + 12 digits) a token is 75 bytes, 100 characters.

Why one code for a wrong key and a tampered byte: GCM's tag check fails the same way for
both, and an outer MAC under the same key would fail the same way too. A key identifier in
the clear could name "not our key", but a forger would simply copy ours from a real label;
so both are ``token_invalid``, which is the honest claim: "not made by us, as it stands".

This module is pure: no clock, no files, no database. Callers pass ``now``.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from parcelguard.core.errors import ParcelGuardError

VERSION: Final = 1
KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
TOKEN_ID_BYTES: Final = 16
TAG_BYTES: Final = 16
MAX_WAYBILL_BYTES: Final = 32  # the width of ``waybills.waybill_no``
DEFAULT_LEEWAY: Final = timedelta(minutes=5)
AAD_PREFIX: Final = b"parcelguard/label-token"

_TIMES = struct.Struct(">QQ")
_OVERHEAD = 1 + NONCE_BYTES + TOKEN_ID_BYTES + _TIMES.size + TAG_BYTES
MIN_TOKEN_BYTES: Final = _OVERHEAD + 1
MAX_TOKEN_BYTES: Final = _OVERHEAD + MAX_WAYBILL_BYTES
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


class Reason(StrEnum):
    """Why a token is refused: machine codes, the same in the audit log, API and console."""

    MALFORMED = "token_malformed"  # not base64url, implausible length, unknown version
    INVALID = "token_invalid"  # does not authenticate: another key, or altered bytes
    EXPIRED = "token_expired"
    NOT_YET_VALID = "token_not_yet_valid"  # issued later than now plus the leeway
    REPLAYED_OTHER_DEVICE = "token_replayed_other_device"
    DEVICE_NOT_REGISTERED = "device_not_registered"
    DEVICE_REVOKED = "device_revoked"


class TokenRejected(ParcelGuardError):
    """A label token that must not be honoured; ``reason`` says why, as a machine code.

    The message never quotes the token: it is a bearer reference, and a log line is no place
    for one. ``code`` is the reason too, so the CLI and problem+json carry it unchanged.
    """

    def __init__(self, reason: Reason | str, message: str | None = None) -> None:
        reason = Reason(reason)
        super().__init__(message or f"label token rejected: {reason.value}", code=reason.value)
        self.reason = reason

    def as_dict(self) -> dict[str, object]:
        return {**super().as_dict(), "reason": self.reason.value}


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What an authentic token says. Not personal data: a waybill number and times.

    ``token_id`` is 32 hex characters, the key of the redemption table.
    """

    token_id: str
    waybill_no: str
    issued_at: datetime
    expires_at: datetime


class LabelTokens:
    """Mints and opens label tokens under one 32-byte key.

    ``leeway`` absorbs clock skew between the printing host and the redeeming service:
    a token is accepted from ``issued_at - leeway`` until ``expires_at + leeway``.
    """

    def __init__(self, key: bytes, *, leeway: timedelta = DEFAULT_LEEWAY) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"a label key is {KEY_BYTES} bytes, this one is {len(key)}")
        if leeway < timedelta(0):
            raise ValueError("leeway cannot be negative")
        self._aead = AESGCM(key)
        self.leeway = leeway

    def __repr__(self) -> str:
        return f"LabelTokens(leeway={self.leeway!r})"  # never the key

    def mint(self, waybill_no: str, issued_at: datetime, expires_at: datetime) -> str:
        """A fresh token for ``waybill_no``: random id and nonce, so no two are alike."""
        number = waybill_no.encode("utf-8")
        if not 1 <= len(number) <= MAX_WAYBILL_BYTES:
            raise ValueError(f"a waybill number is 1 to {MAX_WAYBILL_BYTES} bytes")
        issued, expires = _seconds(issued_at, "issued_at"), _seconds(expires_at, "expires_at")
        if expires <= issued:
            raise ValueError("expires_at must be after issued_at")
        plaintext = os.urandom(TOKEN_ID_BYTES) + number + _TIMES.pack(issued, expires)
        nonce = os.urandom(NONCE_BYTES)
        header = bytes([VERSION])
        sealed = header + nonce + self._aead.encrypt(nonce, plaintext, _aad(VERSION))
        return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")

    def open(self, token: str, now: datetime) -> TokenClaims:
        """The claims of an authentic token valid at ``now``, else :class:`TokenRejected`.

        The checks run from cheapest to dearest and time is judged only after the tag has
        authenticated, so an attacker learns nothing from the reason but "not ours".
        """
        moment = _seconds(now, "now")
        raw = _decode(token)
        if raw[0] != VERSION:
            raise TokenRejected(Reason.MALFORMED, f"label token: unknown version {raw[0]}")
        nonce, sealed = raw[1 : 1 + NONCE_BYTES], raw[1 + NONCE_BYTES :]
        try:
            plaintext = self._aead.decrypt(nonce, sealed, _aad(VERSION))
        except InvalidTag:
            raise TokenRejected(
                Reason.INVALID,
                "label token: does not authenticate (made with another key, or altered)",
            ) from None
        token_id = plaintext[:TOKEN_ID_BYTES]
        issued, expires = _TIMES.unpack(plaintext[-_TIMES.size :])
        try:
            waybill_no = plaintext[TOKEN_ID_BYTES : -_TIMES.size].decode("utf-8")
        except UnicodeDecodeError:  # authentic but not ours to read: a minting bug
            raise TokenRejected(Reason.MALFORMED, "label token: unreadable contents") from None
        leeway = int(self.leeway.total_seconds())
        if moment + leeway < issued:
            raise TokenRejected(
                Reason.NOT_YET_VALID,
                f"label token: issued {issued - moment} s in the future "
                f"(more than the {leeway} s clock leeway)",
            )
        if moment >= expires + leeway:
            raise TokenRejected(
                Reason.EXPIRED, f"label token: expired at {_datetime(expires).isoformat()}"
            )
        return TokenClaims(
            token_id=token_id.hex(),
            waybill_no=waybill_no,
            issued_at=_datetime(issued),
            expires_at=_datetime(expires),
        )


def token_length(waybill_no: str) -> int:
    """Characters of a token for this waybill number: what the QR code has to hold."""
    raw = _OVERHEAD + len(waybill_no.encode("utf-8"))
    return (raw * 4 + 2) // 3


def _aad(version: int) -> bytes:
    return AAD_PREFIX + bytes([version])


def _decode(token: str) -> bytes:
    """Strict base64url: the one alphabet, no padding, canonical, and a plausible length."""
    if not isinstance(token, str) or not _BASE64URL.fullmatch(token):
        raise TokenRejected(Reason.MALFORMED, "label token: not base64url text")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise TokenRejected(Reason.MALFORMED, "label token: not base64url text") from None
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != token:
        raise TokenRejected(Reason.MALFORMED, "label token: not in canonical base64url form")
    if not MIN_TOKEN_BYTES <= len(raw) <= MAX_TOKEN_BYTES:
        raise TokenRejected(
            Reason.MALFORMED,
            f"label token: {len(raw)} bytes, a token is {MIN_TOKEN_BYTES} to {MAX_TOKEN_BYTES}",
        )
    return raw


def _seconds(moment: datetime, what: str) -> int:
    if moment.tzinfo is None:
        raise ValueError(f"{what} must be an aware datetime")
    seconds = int(moment.timestamp() // 1)
    if seconds < 0:
        raise ValueError(f"{what} is before 1970")
    return seconds


def _datetime(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
