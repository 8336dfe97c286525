"""Label tokens: they round-trip, say nothing, and every kind of bad token has its reason."""

import base64
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parcelguard.core.errors import ParcelGuardError
from parcelguard.labels.token import (
    MAX_TOKEN_BYTES,
    MIN_TOKEN_BYTES,
    LabelTokens,
    Reason,
    TokenRejected,
    token_length,
)
from tests.conftest import recent_waybills

KEY = bytes(range(32))
ISSUED = datetime(2026, 5, 6, 3, 30, tzinfo=UTC)
EXPIRES = ISSUED + timedelta(days=14)
WAYBILL = "PG316508274413"


def raw(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def text(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def reason_of(tokens: LabelTokens, token: str, now: datetime = ISSUED) -> Reason:
    with pytest.raises(TokenRejected) as caught:
        tokens.open(token, now)
    return caught.value.reason


@pytest.fixture
def tokens() -> LabelTokens:
    return LabelTokens(KEY)


@pytest.fixture
def token(tokens: LabelTokens) -> str:
    return tokens.mint(WAYBILL, ISSUED, EXPIRES)


def test_a_token_opens_to_what_was_minted(tokens: LabelTokens, token: str) -> None:
    claims = tokens.open(token, ISSUED + timedelta(days=3))
    assert claims.waybill_no == WAYBILL
    assert claims.issued_at == ISSUED
    assert claims.expires_at == EXPIRES
    assert len(claims.token_id) == 32
    int(claims.token_id, 16)  # hex, the key of the redemption table


def test_the_length_is_fixed_by_the_waybill_number_and_fits_a_small_qr(token: str) -> None:
    # 1 version + 12 nonce + 16 id + 14 number + 16 times + 16 tag = 75 bytes = 100 characters
    assert len(token) == 100 == token_length(WAYBILL)
    assert len(raw(token)) == 75
    assert token_length("P" * 32) == 124  # the widest number the store can hold
    assert "=" not in token


def test_every_token_is_fresh_even_for_the_same_waybill(tokens: LabelTokens) -> None:
    first, second = (tokens.mint(WAYBILL, ISSUED, EXPIRES) for _ in range(2))
    assert first != second
    a, b = raw(first), raw(second)
    assert a[0] == b[0] == 1  # only the version byte is shared
    assert sum(x == y for x, y in zip(a[1:], b[1:], strict=True)) < 10  # chance agreement only
    assert tokens.open(first, ISSUED).token_id != tokens.open(second, ISSUED).token_id


def test_the_token_shows_neither_the_waybill_nor_personal_data(tokens: LabelTokens) -> None:
    for w in recent_waybills(20):
        token = tokens.mint(w.waybill_no, ISSUED, EXPIRES)
        data = raw(token)
        for secret in (w.waybill_no, w.waybill_no[2:], w.recipient_phone):
            assert secret not in token
            assert secret.encode() not in data
        for personal in (w.recipient_name, w.recipient_address):
            assert personal.encode("utf-8") not in data
            assert personal.encode("utf-16-be") not in data
        # The times are sealed too: the issue second does not appear in the clear.
        assert int(ISSUED.timestamp()).to_bytes(8, "big") not in data


def test_a_changed_byte_anywhere_is_refused(tokens: LabelTokens, token: str) -> None:
    data = raw(token)
    for position in range(len(data)):
        for flip in (0x01, 0x80):
            changed = bytearray(data)
            changed[position] ^= flip
            expected = Reason.MALFORMED if position == 0 else Reason.INVALID  # 0: the version
            assert reason_of(tokens, text(bytes(changed))) == expected, position


def test_a_changed_character_anywhere_is_refused(tokens: LabelTokens, token: str) -> None:
    for position, char in enumerate(token):
        other = "A" if char != "A" else "B"
        changed = token[:position] + other + token[position + 1 :]
        # The last character also carries padding bits, so changing it may make the text
        # non-canonical (malformed) rather than a different ciphertext (invalid).
        assert reason_of(tokens, changed) in {Reason.INVALID, Reason.MALFORMED}


def test_a_token_made_with_another_key_is_invalid(token: str) -> None:
    assert reason_of(LabelTokens(secrets.token_bytes(32)), token) == Reason.INVALID


def test_truncated_or_extended_tokens_are_refused(tokens: LabelTokens, token: str) -> None:
    data = raw(token)
    assert reason_of(tokens, text(data[:-1])) == Reason.INVALID  # plausible length, no tag
    assert reason_of(tokens, text(data + b"\x00")) == Reason.INVALID
    assert reason_of(tokens, text(data[: MIN_TOKEN_BYTES - 1])) == Reason.MALFORMED
    assert reason_of(tokens, text(data + bytes(MAX_TOKEN_BYTES))) == Reason.MALFORMED
    assert reason_of(tokens, token[:-1]) in {Reason.MALFORMED, Reason.INVALID}
    assert reason_of(tokens, token[:40]) == Reason.MALFORMED
    assert reason_of(tokens, "") == Reason.MALFORMED


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t + "==",  # padding is not part of the format
        lambda t: t.replace("-", "+").replace("_", "/") + "+/",  # the other alphabet
        lambda t: t[:50] + " " + t[50:],
        lambda t: t[:50] + "\n" + t[50:],
        lambda t: "x" + t,  # length 4k+1 cannot be base64
        lambda t: t[:-1] + "。",
    ],
)
def test_text_that_is_not_strict_base64url_is_malformed(
    tokens: LabelTokens, token: str, mangle: object
) -> None:
    assert callable(mangle)
    assert reason_of(tokens, mangle(token)) == Reason.MALFORMED


def test_an_unknown_version_is_malformed(tokens: LabelTokens, token: str) -> None:
    data = bytearray(raw(token))
    data[0] = 2
    with pytest.raises(TokenRejected, match="unknown version 2") as caught:
        tokens.open(text(bytes(data)), ISSUED)
    assert caught.value.reason == Reason.MALFORMED


def test_expiry_counts_the_leeway_and_then_refuses(tokens: LabelTokens, token: str) -> None:
    leeway = timedelta(minutes=5)
    tokens.open(token, EXPIRES + leeway - timedelta(seconds=1))
    assert reason_of(tokens, token, EXPIRES + leeway) == Reason.EXPIRED
    assert reason_of(tokens, token, EXPIRES + timedelta(days=30)) == Reason.EXPIRED
    strict = LabelTokens(KEY, leeway=timedelta(0))
    assert reason_of(strict, token, EXPIRES) == Reason.EXPIRED


def test_a_token_from_the_future_is_accepted_only_within_the_leeway(
    tokens: LabelTokens, token: str
) -> None:
    assert tokens.open(token, ISSUED - timedelta(minutes=4, seconds=59)).waybill_no == WAYBILL
    assert tokens.open(token, ISSUED - timedelta(minutes=5)).waybill_no == WAYBILL
    assert reason_of(tokens, token, ISSUED - timedelta(minutes=5, seconds=1)) == (
        Reason.NOT_YET_VALID
    )
    wide = LabelTokens(KEY, leeway=timedelta(hours=1))
    assert wide.open(token, ISSUED - timedelta(minutes=59)).waybill_no == WAYBILL
    strict = LabelTokens(KEY, leeway=timedelta(0))
    assert reason_of(strict, token, ISSUED - timedelta(seconds=1)) == Reason.NOT_YET_VALID


def test_time_is_judged_only_after_authenticity(token: str) -> None:
    # A forged token far past its expiry must say "not ours", not "expired": the reason
    # must not tell a forger which of his guesses got further.
    other = LabelTokens(secrets.token_bytes(32))
    assert reason_of(other, token, EXPIRES + timedelta(days=400)) == Reason.INVALID


def test_rejections_are_parcelguard_errors_with_the_reason_as_code(
    tokens: LabelTokens, token: str
) -> None:
    with pytest.raises(TokenRejected) as caught:
        tokens.open(token, EXPIRES + timedelta(days=1))
    error = caught.value
    assert isinstance(error, ParcelGuardError)
    assert error.code == error.reason == "token_expired"
    assert error.as_dict()["reason"] == "token_expired"
    assert token not in error.message
    assert TokenRejected("token_replayed_other_device").reason is Reason.REPLAYED_OTHER_DEVICE
    with pytest.raises(ValueError, match="is not a valid Reason"):
        TokenRejected("some_other_reason")


def test_bad_arguments_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        LabelTokens(b"short")
    tokens = LabelTokens(KEY)
    assert KEY.hex() not in repr(tokens)
    with pytest.raises(ValueError, match="aware"):
        tokens.mint(WAYBILL, ISSUED.replace(tzinfo=None), EXPIRES)
    with pytest.raises(ValueError, match="after"):
        tokens.mint(WAYBILL, ISSUED, ISSUED)
    with pytest.raises(ValueError, match="1 to 32"):
        tokens.mint("P" * 33, ISSUED, EXPIRES)
    with pytest.raises(ValueError, match="1 to 32"):
        tokens.mint("", ISSUED, EXPIRES)
    with pytest.raises(ValueError, match="aware"):
        tokens.open(tokens.mint(WAYBILL, ISSUED, EXPIRES), datetime(2026, 5, 6))


@given(
    waybill_no=st.text(min_size=1, max_size=32).filter(lambda s: len(s.encode()) <= 32),
    issued=st.integers(min_value=0, max_value=4_102_444_800),  # to 2100
    days=st.integers(min_value=1, max_value=400),
)
def test_any_number_and_times_round_trip(waybill_no: str, issued: int, days: int) -> None:
    tokens = LabelTokens(KEY)
    start = datetime.fromtimestamp(issued, UTC)
    token = tokens.mint(waybill_no, start, start + timedelta(days=days))
    assert len(token) == token_length(waybill_no)
    claims = tokens.open(token, start)
    assert (claims.waybill_no, claims.issued_at) == (waybill_no, start)
    assert claims.expires_at == start + timedelta(days=days)
