"""API tokens: the format, the checks, the key file, and the 30-second standing cache."""

from __future__ import annotations

import base64
import json
import stat
from collections import Counter
from datetime import timedelta

import pytest

from parcelguard.api.auth import (
    CACHE_SECONDS,
    MAX_TTL,
    ApiTokens,
    Authenticator,
    Unauthenticated,
    api_key,
    api_key_path,
    cache_lifetime,
    check_pair,
)
from parcelguard.core.errors import BadInput, KeyError_
from parcelguard.storage.schema import devices, employees
from tests.reveal.conftest import NOW, World

KEY = bytes(range(32))


def test_the_token_is_payload_dot_mac_in_base64url_without_padding() -> None:
    token = ApiTokens(KEY).mint("C1", "D-C1", NOW, timedelta(hours=8))
    payload, mac = token.split(".")
    assert "=" not in token
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert set(claims) == {"sub", "dev", "iat", "exp", "jti"}
    assert (claims["sub"], claims["dev"]) == ("C1", "D-C1")
    assert claims["exp"] - claims["iat"] == 8 * 3600
    assert len(base64.urlsafe_b64decode(mac + "=")) == 32
    opened = ApiTokens(KEY).open(token, NOW)
    assert (opened.employee_id, opened.device_id) == ("C1", "D-C1")
    assert ApiTokens(KEY).mint("C1", "D-C1", NOW) != token  # a fresh jti each time


def test_expiry_and_issue_time_allow_a_minute_of_clock_skew() -> None:
    tokens = ApiTokens(KEY)
    token = tokens.mint("C1", "D-C1", NOW, timedelta(hours=1))
    tokens.open(token, NOW + timedelta(hours=1, seconds=59))
    with pytest.raises(Unauthenticated) as late:
        tokens.open(token, NOW + timedelta(hours=1, seconds=60))
    assert late.value.reason == "token_expired"
    tokens.open(token, NOW - timedelta(seconds=60))
    with pytest.raises(Unauthenticated) as early:
        tokens.open(token, NOW - timedelta(seconds=61))
    assert early.value.reason == "token_not_yet_valid"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t + "=",  # padding
        lambda t: t.replace(".", ".."),
        lambda t: t.split(".")[0],
        lambda t: t + "." + t,
        lambda t: "A" * 2000,
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
    ],
)
def test_anything_but_the_minted_text_is_refused(mangle) -> None:
    tokens = ApiTokens(KEY)
    token = tokens.mint("C1", "D-C1", NOW)
    tokens.open(token, NOW)  # the genuine text verified (and remembered) first
    with pytest.raises(Unauthenticated) as refused:
        tokens.open(mangle(token), NOW)
    assert refused.value.reason in ("token_malformed", "token_invalid")
    assert token not in str(refused.value)


def test_the_key_never_shows_in_a_repr() -> None:
    assert base64.b64encode(KEY).decode() not in repr(ApiTokens(KEY))
    assert KEY.hex() not in repr(ApiTokens(KEY))


@pytest.mark.parametrize(
    ("employee", "device", "ttl"),
    [
        ("C 1", "D-C1", timedelta(hours=1)),
        ("C1", "", timedelta(hours=1)),
        ("C1", "D-C1", timedelta(0)),
        ("C1", "D-C1", MAX_TTL + timedelta(seconds=1)),
    ],
)
def test_minting_refuses_odd_ids_and_lifetimes(employee: str, device: str, ttl: timedelta) -> None:
    with pytest.raises(BadInput):
        ApiTokens(KEY).mint(employee, device, NOW, ttl)


def test_the_key_file_is_created_once_with_mode_600(world: World) -> None:
    path = api_key_path(world.settings)
    assert not path.exists()
    with pytest.raises(KeyError_):
        api_key(world.settings, create=False)
    key = api_key(world.settings, create=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert api_key(world.settings, create=True) == key
    path.chmod(0o644)
    with pytest.raises(KeyError_, match="chmod 600"):
        api_key(world.settings, create=False)


def test_standing_is_cached_for_its_lifetime_then_read_again(world: World) -> None:
    ticks = [1000.0]
    authenticator = Authenticator(
        ApiTokens(KEY), world.engine, lambda: NOW, monotonic=lambda: ticks[0]
    )
    token = ApiTokens(KEY).mint("C1", "D-C1", NOW)
    assert authenticator.authenticate(token).role == "courier"
    with world.engine.begin() as conn:
        conn.execute(devices.update().where(devices.c.device_id == "D-C1").values(revoked_at=NOW))
    lifetime = cache_lifetime("C1", "D-C1", CACHE_SECONDS)
    ticks[0] += lifetime - 0.1
    assert authenticator.authenticate(token).device_id == "D-C1"  # still the cached standing
    ticks[0] += 0.2
    with pytest.raises(Unauthenticated) as refused:
        authenticator.authenticate(token)
    assert refused.value.reason == "device_revoked"


def test_a_shifts_cached_standings_expire_apart_and_all_within_thirty_seconds() -> None:
    """Handhelds that signed in together must not all be read again in the same instant."""
    lifetimes = [cache_lifetime(f"C{n:04d}", f"HH{n:04d}", CACHE_SECONDS) for n in range(2000)]
    assert all(CACHE_SECONDS / 2 <= x <= CACHE_SECONDS for x in lifetimes)
    per_second = Counter(int(x) for x in lifetimes)
    assert max(per_second.values()) < 2000 / 15 * 1.5  # spread evenly, no pile-up in one second


def test_a_departure_recorded_today_still_lets_the_day_finish(world: World) -> None:
    """Like the reveal facts: an employee whose last day is today is still active today."""
    with world.engine.begin() as conn:
        conn.execute(
            employees.update().where(employees.c.employee_id == "C2").values(left_on=NOW.date())
        )
    authenticator = Authenticator(ApiTokens(KEY), world.engine, lambda: NOW)
    assert authenticator.authenticate(ApiTokens(KEY).mint("C2", "D-C2", NOW)).role == "courier"
    tomorrow = Authenticator(ApiTokens(KEY), world.engine, lambda: NOW + timedelta(days=1))
    with pytest.raises(Unauthenticated) as refused:
        tomorrow.authenticate(ApiTokens(KEY).mint("C2", "D-C2", NOW + timedelta(days=1)))
    assert refused.value.reason == "account_inactive"


def test_a_revocation_scheduled_for_later_takes_effect_on_time_even_from_the_cache(
    world: World,
) -> None:
    with world.engine.begin() as conn:
        conn.execute(
            devices.update()
            .where(devices.c.device_id == "D-C1")
            .values(revoked_at=NOW + timedelta(minutes=5))
        )
    now = [NOW]
    authenticator = Authenticator(ApiTokens(KEY), world.engine, lambda: now[0])
    token = ApiTokens(KEY).mint("C1", "D-C1", NOW)
    authenticator.authenticate(token)
    now[0] = NOW + timedelta(minutes=5)
    with pytest.raises(Unauthenticated) as refused:
        authenticator.authenticate(token)
    assert refused.value.reason == "device_revoked"


def test_minting_checks_the_pair_first(world: World) -> None:
    assert check_pair(world.engine, "O1", "D-O1", NOW) == "security_officer"
    for employee, device in [("X1", "D-X1"), ("C1", "D-C2"), ("C1", "NOPE"), ("NOBODY", "D-C1")]:
        with pytest.raises(BadInput, match="--employee"):
            check_pair(world.engine, employee, device, NOW)
