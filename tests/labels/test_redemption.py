"""Redemption binds a token to its first registered device, on SQLite and PostgreSQL alike."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from parcelguard.config import Settings
from parcelguard.labels.redemption import redeem
from parcelguard.labels.token import LabelTokens, Reason, TokenClaims, TokenRejected
from parcelguard.storage import begin_write, connect_current
from parcelguard.storage.schema import devices, label_token_redemptions

NOW = datetime(2026, 5, 7, 9, 0, tzinfo=UTC)
TOKENS = LabelTokens(bytes(range(32)))


@pytest.fixture
def engine(settings: Settings) -> Engine:
    engine = connect_current(settings.db_url)
    with begin_write(engine) as conn:
        conn.execute(
            devices.insert(),
            [
                {
                    "device_id": f"HH{n}",
                    "employee_id": f"E{n:06d}",
                    "kind": "handheld",
                    "registered_at": NOW - timedelta(days=30),
                    "revoked_at": None,
                }
                for n in range(1, 9)
            ]
            + [
                {
                    "device_id": "HH-REVOKED",
                    "employee_id": "E000099",
                    "kind": "handheld",
                    "registered_at": NOW - timedelta(days=30),
                    "revoked_at": NOW - timedelta(days=1),
                },
                {
                    "device_id": "HH-LEAVING",
                    "employee_id": "E000098",
                    "kind": "handheld",
                    "registered_at": NOW - timedelta(days=30),
                    "revoked_at": NOW + timedelta(days=1),
                },
            ],
        )
    yield engine
    engine.dispose()


def claims(waybill_no: str = "PG316508274413") -> TokenClaims:
    token = TOKENS.mint(waybill_no, NOW - timedelta(hours=1), NOW + timedelta(days=14))
    return TOKENS.open(token, NOW)


def bindings(engine: Engine) -> dict[str, tuple[str, datetime]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(label_token_redemptions))
        return {r.token_id: (r.device_id, r.first_redeemed_at) for r in rows}


def test_the_first_device_binds_and_may_rescan(engine: Engine) -> None:
    token = claims()
    redeem(engine, token, "HH1", NOW)
    redeem(engine, token, "HH1", NOW + timedelta(minutes=10))  # the courier scans again
    assert bindings(engine) == {token.token_id: ("HH1", NOW)}


def test_another_device_later_is_a_replay(engine: Engine) -> None:
    token = claims()
    redeem(engine, token, "HH1", NOW)
    with pytest.raises(TokenRejected) as caught:
        redeem(engine, token, "HH2", NOW + timedelta(minutes=1))
    assert caught.value.reason == Reason.REPLAYED_OTHER_DEVICE
    assert "PG316508274413" in caught.value.message
    assert bindings(engine)[token.token_id][0] == "HH1"
    redeem(engine, token, "HH1", NOW + timedelta(minutes=2))  # the owner still may


def test_tokens_are_bound_one_by_one(engine: Engine) -> None:
    first, second = claims(), claims()  # two labels of the same waybill
    redeem(engine, first, "HH1", NOW)
    redeem(engine, second, "HH2", NOW)
    assert {k: v[0] for k, v in bindings(engine).items()} == {
        first.token_id: "HH1",
        second.token_id: "HH2",
    }


@pytest.mark.parametrize(
    ("device", "reason"),
    [
        ("HH-UNKNOWN", Reason.DEVICE_NOT_REGISTERED),
        ("", Reason.DEVICE_NOT_REGISTERED),
        ("H" * 65, Reason.DEVICE_NOT_REGISTERED),
        ("HH-REVOKED", Reason.DEVICE_REVOKED),
    ],
)
def test_an_unregistered_or_revoked_device_binds_nothing(
    engine: Engine, device: str, reason: Reason
) -> None:
    token = claims()
    with pytest.raises(TokenRejected) as caught:
        redeem(engine, token, device, NOW)
    assert caught.value.reason == reason
    assert bindings(engine) == {}
    redeem(engine, token, "HH1", NOW)  # so it cannot lock the courier out


def test_a_device_revoked_only_later_still_redeems(engine: Engine) -> None:
    redeem(engine, claims(), "HH-LEAVING", NOW)


def test_two_devices_racing_for_one_token_exactly_one_wins(engine: Engine) -> None:
    for round_ in range(6):
        token = claims()
        devices_ = [f"HH{2 * (round_ % 4) + 1}", f"HH{2 * (round_ % 4) + 2}"]
        barrier = threading.Barrier(len(devices_))
        outcome: dict[str, str] = {}

        def attempt(device: str, token: TokenClaims = token, barrier=barrier, outcome=outcome):
            barrier.wait()
            try:
                redeem(engine, token, device, NOW)
                outcome[device] = "bound"
            except TokenRejected as exc:
                outcome[device] = exc.reason.value

        threads = [threading.Thread(target=attempt, args=(d,)) for d in devices_]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(outcome.values()) == ["bound", "token_replayed_other_device"], outcome
        winner = next(d for d, result in outcome.items() if result == "bound")
        assert bindings(engine)[token.token_id][0] == winner


def test_naive_time_is_a_programming_error(engine: Engine) -> None:
    with pytest.raises(ValueError, match="aware"):
        redeem(engine, claims(), "HH1", NOW.replace(tzinfo=None))
