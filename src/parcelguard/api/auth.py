"""Who is calling: HMAC-signed bearer tokens naming one employee on one registered device.

Why this choice and not per-device Ed25519 keys: a device key proves the handheld itself, but
provisioning a private key into every handheld (and rotating it when one is lost) is a
project of its own, and the server would still have to check the ``devices`` table to learn
whom the device belongs to now. A token minted by the operator for an (employee, device)
pair, with a short life, gives the same guarantee the reveal service needs, namely that the
actor and the device come from something the server issued and not from the request body, at
the cost of one HMAC per request. Moving to device keys later changes only this module.

Token format (version 1, no padding anywhere)::

    base64url(payload) "." base64url(HMAC-SHA256(api key, base64url(payload)))
    payload = compact JSON {"dev": device, "exp": s, "iat": s, "jti": 32 hex, "sub": employee}

The key is 32 random bytes in its own 0600 file, ``$PARCELGUARD_HOME/keys/api.key``, apart
from the KEK (which opens recipient data) and the label key (which label printers hold):
whoever can read it can mint tokens, so only the API host and the operator's minting
command need it.

Verification, cheapest first: shape and canonical base64url, the MAC (constant-time), the
payload's shape, then time (``iat`` not in the future and ``exp`` not passed, each with
:data:`LEEWAY` for clock skew), then the store: the device must be registered to the token's
employee and not revoked, and the employee must exist, have a known role and not have left.
A signature alone is not enough, because a token outlives the facts it was minted on (a
handheld reported lost, a courier who quit); those facts are read from the store and cached
for at most :data:`CACHE_SECONDS` (30 s) per (employee, device), so revoking a device or
recording a departure cuts its tokens off within that time without a query per request. Each
pair keeps its entry between half and all of that (:func:`cache_lifetime`): a shift's
handhelds all sign in within minutes, and with one lifetime for all their entries expired
together, a burst of store reads in the event loop's thread pool every 30 s (measured: the
worst 10 s of every bench/http_reveal.py run, 30 and 60 s after the warm-up).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Final

import sqlalchemy as sa

from parcelguard.config import Settings
from parcelguard.core.errors import BadInput, ParcelGuardError
from parcelguard.events.schema import ROLES
from parcelguard.storage.schema import devices, employees
from parcelguard.vault.keys import random_key_file

KEY_BYTES: Final = 32
LEEWAY: Final = timedelta(seconds=60)
"""Clock skew tolerated between the minting host and the API host."""
DEFAULT_TTL: Final = timedelta(hours=8)
"""A shift: a token minted at the start of the day is dead by the next one."""
MAX_TTL: Final = timedelta(days=31)
CACHE_SECONDS: Final = 30.0
MAX_TOKEN_CHARS: Final = 1024
_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_JTI = re.compile(r"[0-9a-f]{32}")
_PAYLOAD_KEYS: Final = frozenset({"sub", "dev", "iat", "exp", "jti"})
_CACHE_LIMIT: Final = 100_000


class Unauthenticated(ParcelGuardError):
    """A call without an acceptable token; ``code`` is the machine reason, never the token."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, code=reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TokenClaims:
    employee_id: str
    device_id: str
    issued_at: int
    expires_at: int
    token_id: str


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: the only source of the actor and device of a request."""

    employee_id: str
    device_id: str
    role: str
    device_kind: str
    token_id: str

    @property
    def channel(self) -> str:
        """The reveal channel: a handheld's app is ``handheld``, any other device ``api``."""
        return "handheld" if self.device_kind == "handheld" else "api"


def api_key_path(settings: Settings) -> Path:
    """Where the API token key lives: beside the other keys under ``PARCELGUARD_HOME/keys``."""
    return settings.home / "keys" / "api.key"


def api_key(settings: Settings, create: bool) -> bytes:
    """The 32-byte token key; with ``create``, make the 0600 file first if it is missing.

    Creating never overwrites: if another process (a second worker) creates it first, its
    key is read, so every worker of one installation signs and checks with the same key.
    """
    return random_key_file(api_key_path(settings), KEY_BYTES, "an API key", create=create)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """Strict base64url: its alphabet, no padding, canonical (one text per byte string)."""
    if not _B64URL.fullmatch(text):
        raise Unauthenticated("token_malformed", "bearer token: not base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise Unauthenticated("token_malformed", "bearer token: not base64url") from None
    if _b64(raw) != text:
        raise Unauthenticated("token_malformed", "bearer token: not canonical base64url")
    return raw


class ApiTokens:
    """Mints and checks the signature and times of API tokens under one key (no I/O)."""

    def __init__(self, key: bytes, *, leeway: timedelta = LEEWAY) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"an API key is {KEY_BYTES} bytes, this one is {len(key)}")
        self._key = key
        self.leeway = int(leeway.total_seconds())
        # Tokens whose signature has verified, with their claims. Why: a courier's handheld
        # sends the same token all shift, and the MAC, base64 and JSON of each request were
        # a tenth of the HTTP process's time per reveal (bench/http_reveal.py). Only the
        # signature is remembered: the times are judged on every call, so an expired token
        # is refused the moment it expires. Bounded, and cleared when full.
        self._verified: dict[str, TokenClaims] = {}

    def __repr__(self) -> str:
        return f"ApiTokens(leeway={self.leeway})"  # never the key

    def _mac(self, payload: str) -> bytes:
        return hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest()

    def mint(
        self, employee_id: str, device_id: str, now: datetime, ttl: timedelta = DEFAULT_TTL
    ) -> str:
        for name, value in (("--employee", employee_id), ("--device", device_id)):
            if not _ID.fullmatch(value):
                raise BadInput(f"{name}: give an id of 1 to 64 letters, digits or _ . : -")
        if not timedelta(seconds=1) <= ttl <= MAX_TTL:
            raise BadInput(f"--ttl: between 1 second and {MAX_TTL.days} days")
        issued = int(now.timestamp())
        claims = {
            "dev": device_id,
            "exp": issued + int(ttl.total_seconds()),
            "iat": issued,
            "jti": secrets.token_hex(16),
            "sub": employee_id,
        }
        payload = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
        return f"{payload}.{_b64(self._mac(payload))}"

    def open(self, token: str, now: datetime) -> TokenClaims:
        """The claims of an authentic token valid at ``now``, else :class:`Unauthenticated`.

        Time is judged only after the MAC has verified, so a forger learns nothing but
        "not ours" from the answer.
        """
        claims = self._verified.get(token)
        if claims is None:
            claims = self._verify(token)
            if len(self._verified) >= _CACHE_LIMIT:
                self._verified.clear()
            self._verified[token] = claims
        moment = int(now.timestamp())
        if claims.issued_at > moment + self.leeway:
            raise Unauthenticated("token_not_yet_valid", "bearer token: issued in the future")
        if moment >= claims.expires_at + self.leeway:
            raise Unauthenticated("token_expired", "bearer token: expired; ask for a new one")
        return claims

    def _verify(self, token: str) -> TokenClaims:
        if len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
            raise Unauthenticated("token_malformed", "bearer token: not an API token")
        payload, signature = token.split(".")
        mac = _unb64(signature)
        _unb64(payload)  # canonical, or the MAC below would bless two spellings
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise Unauthenticated("token_invalid", "bearer token: does not verify")
        return _claims(_unb64(payload))


def _claims(raw: bytes) -> TokenClaims:
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise Unauthenticated("token_malformed", "bearer token: payload is not JSON") from None
    if not isinstance(data, dict) or set(data) != _PAYLOAD_KEYS:
        raise Unauthenticated("token_malformed", "bearer token: unexpected payload")
    sub, dev, iat, exp, jti = (data[k] for k in ("sub", "dev", "iat", "exp", "jti"))
    if not (
        isinstance(sub, str)
        and isinstance(dev, str)
        and _ID.fullmatch(sub)
        and _ID.fullmatch(dev)
        and type(iat) is int
        and type(exp) is int
        and iat < exp
        and isinstance(jti, str)
        and _JTI.fullmatch(jti)
    ):
        raise Unauthenticated("token_malformed", "bearer token: unexpected payload")
    return TokenClaims(sub, dev, iat, exp, jti)


@dataclass(frozen=True, slots=True)
class _Standing:
    """What the store says about an (employee, device) pair, as read at one moment."""

    role: str | None  # None: no such employee
    left_on: date | None
    device_owner: str | None  # None: no such device
    device_kind: str
    registered_at: datetime | None
    revoked_at: datetime | None


class Authenticator:
    """Turns a bearer token into a :class:`Principal`, or refuses it with a reason.

    ``monotonic`` times the cache (injectable so tests can age it); ``cache_seconds=0``
    reads the store on every call.
    """

    def __init__(
        self,
        tokens: ApiTokens,
        engine: sa.Engine,
        clock: Callable[[], datetime],
        *,
        cache_seconds: float = CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tokens = tokens
        self._engine = engine
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._cache: dict[tuple[str, str], tuple[float, _Standing]] = {}
        self._lock = threading.Lock()

    def claims(self, token: str) -> TokenClaims:
        """The signature and time checks alone: no I/O, safe on the event loop."""
        return self.tokens.open(token, self._clock())

    def cached(self, claims: TokenClaims) -> Principal | None:
        """The principal if the pair's standing is cached and fresh; None means "look it up"."""
        entry = self._cache.get((claims.employee_id, claims.device_id))
        if entry is None or self._monotonic() >= entry[0]:
            return None
        return _judge(claims, entry[1], self._clock())

    def principal(self, claims: TokenClaims) -> Principal:
        """The principal for verified ``claims``, reading the store when the cache is stale."""
        hit = self.cached(claims)
        if hit is not None:
            return hit
        standing = self._lookup(claims.employee_id, claims.device_id)
        with self._lock:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            lifetime = cache_lifetime(claims.employee_id, claims.device_id, self._cache_seconds)
            self._cache[(claims.employee_id, claims.device_id)] = (
                self._monotonic() + lifetime,
                standing,
            )
        return _judge(claims, standing, self._clock())

    def authenticate(self, token: str) -> Principal:
        return self.principal(self.claims(token))

    def _lookup(self, employee_id: str, device_id: str) -> _Standing:
        with self._engine.connect() as conn:
            person = conn.execute(
                sa.select(employees.c.role, employees.c.left_on).where(
                    employees.c.employee_id == employee_id
                )
            ).first()
            device = conn.execute(
                sa.select(
                    devices.c.employee_id,
                    devices.c.kind,
                    devices.c.registered_at,
                    devices.c.revoked_at,
                ).where(devices.c.device_id == device_id)
            ).first()
        return _Standing(
            role=None if person is None else str(person.role),
            left_on=None if person is None else person.left_on,
            device_owner=None if device is None else str(device.employee_id),
            device_kind="" if device is None else str(device.kind),
            registered_at=None if device is None else device.registered_at,
            revoked_at=None if device is None else device.revoked_at,
        )


def cache_lifetime(employee_id: str, device_id: str, cache_seconds: float) -> float:
    """How long this pair's standing stays cached: between half and all of ``cache_seconds``.

    A fixed fraction per pair (from a checksum of the ids), so entries made together expire
    apart, and every pair is still read again within ``cache_seconds``.
    """
    spread = zlib.crc32(f"{employee_id}\0{device_id}".encode()) / 2**32
    return cache_seconds * (0.5 + 0.5 * spread)


def _judge(claims: TokenClaims, standing: _Standing, now: datetime) -> Principal:
    """The rule, on facts already read: each failure has its own reason code."""
    if standing.role is None:
        raise Unauthenticated("unknown_actor", "bearer token: the employee is not known")
    if standing.role not in ROLES:
        raise Unauthenticated("unknown_role", "bearer token: the employee has no known role")
    if standing.left_on is not None and standing.left_on < now.astimezone(UTC).date():
        raise Unauthenticated("account_inactive", "bearer token: the employee has left")
    if (
        standing.device_owner != claims.employee_id
        or standing.registered_at is None
        or standing.registered_at > now
    ):
        raise Unauthenticated(
            "device_not_registered", "bearer token: the device is not registered to the employee"
        )
    if standing.revoked_at is not None and standing.revoked_at <= now:
        raise Unauthenticated("device_revoked", "bearer token: the device has been revoked")
    return Principal(
        employee_id=claims.employee_id,
        device_id=claims.device_id,
        role=standing.role,
        device_kind=standing.device_kind,
        token_id=claims.token_id,
    )


def check_pair(engine: sa.Engine, employee_id: str, device_id: str, now: datetime) -> str:
    """For minting: refuse a token the server would refuse anyway; return the role.

    The reason is :class:`BadInput` naming the option, so the operator fixes the command
    rather than handing out a token that never works.
    """
    probe = Authenticator(ApiTokens(bytes(KEY_BYTES)), engine, lambda: now, cache_seconds=0)
    claims = TokenClaims(employee_id, device_id, 0, 1, "0" * 32)
    try:
        return probe.principal(claims).role
    except Unauthenticated as exc:
        raise BadInput(f"--employee {employee_id} --device {device_id}: {exc.reason}") from None
