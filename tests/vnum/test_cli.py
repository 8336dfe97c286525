"""``parcelguard vnum``: provision, route, who-had, history, expire and stats through the CLI."""

from __future__ import annotations

import json

import sqlalchemy as sa
from typer.testing import CliRunner

from parcelguard.cli.vnum import app
from parcelguard.config import Settings
from parcelguard.storage.schema import vnum_pool
from parcelguard.vnum import VirtualNumbers
from tests.vnum.conftest import DAY, QUARANTINE, T0

runner = CliRunner()
W1 = "PG316508274413"


def run(env: dict[str, str], *args: str, code: int = 0) -> dict[str, object]:
    result = runner.invoke(app, [*args, "--json"], env=env)
    assert result.exit_code == code, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_provision_route_and_attribute(
    env: dict[str, str], settings: Settings, vnums: VirtualNumbers
) -> None:
    provisioned = run(env, "provision", "--count", "5", "--prefix", "1709", "--seed", "11")
    assert (provisioned["added"], provisioned["pool_size"]) == (5, 5)
    assert provisioned["pool"] == {"total": 5, "bound": 0, "quarantined": 0, "free": 5}
    assert run(env, "provision", "--count", "5", "--prefix", "1709", "--seed", "11")["added"] == 0

    binding = vnums.bind(W1, "E1", "D1", T0 + 2 * DAY, T0)
    number = binding.number
    spaced = f"+86 {number[:3]}-{number[3:7]}-{number[7:]}"
    at = (T0 + DAY).isoformat()

    routed = run(env, "route", spaced, "--device", "D1", "--at", at)
    assert routed["ok"] is True
    assert routed["connected"] is True
    assert (routed["reason"], routed["employee_id"], routed["waybill_no"]) == (
        "connected",
        "E1",
        W1,
    )
    refused = run(env, "route", number, "--device", "BUYER", "--at", at)
    assert (refused["connected"], refused["reason"]) == (False, "wrong_device")
    assert refused["reason_zh"] == "来电设备不是该隐私号绑定的设备"

    expired = run(env, "expire", "--at", (T0 + 3 * DAY).isoformat())
    assert (expired["released"], expired["numbers"]) == (1, 1)
    assert expired["pool"] == {"total": 5, "bound": 0, "quarantined": 1, "free": 4}

    held = run(env, "who-had", number, "--at", at)
    assert held["known"] is True
    assert held["binding"]["employee_id"] == "E1"  # type: ignore[index]
    nobody = run(env, "who-had", number, "--at", (T0 + 10 * DAY).isoformat())
    assert nobody["binding"] is None
    history = run(env, "history", number)
    assert [b["employee_id"] for b in history["bindings"]] == ["E1"]  # type: ignore[union-attr]
    stats = run(env, "stats", "--at", (T0 + 2 * DAY + QUARANTINE).isoformat())
    assert stats["free"] == 5


def test_human_output_speaks_the_chosen_language(
    env: dict[str, str], settings: Settings, vnums: VirtualNumbers
) -> None:
    run(env, "provision", "--count", "2")
    number = vnums.bind(W1, "E1", "D1", T0 + DAY, T0).number
    result = runner.invoke(
        app, ["route", number, "--device", "D9", "--at", T0.isoformat(), "--lang", "zh"], env=env
    )
    assert result.exit_code == 0, result.stderr
    assert "未接通" in result.stdout
    assert "来电设备不是该隐私号绑定的设备" in result.stdout
    english = runner.invoke(
        app, ["route", number, "--device", "D1", "--at", T0.isoformat(), "--lang", "en"], env=env
    )
    assert "connected" in english.stdout
    assert "E1" in english.stdout


def test_unknown_numbers_and_bad_input(env: dict[str, str], settings: Settings) -> None:
    unknown = run(env, "who-had", "17099999999", "--at", T0.isoformat())
    assert (unknown["known"], unknown["binding"]) == (False, None)
    assert run(env, "route", "17099999999", "--device", "D1")["reason"] == "unknown_number"

    bad = runner.invoke(app, ["route", "13812345678", "--device", "D1", "--json"], env=env)
    assert bad.exit_code == 2
    assert "number: is not in a virtual-number range" in bad.stderr
    assert "13812345678" not in bad.stderr + bad.stdout
    assert json.loads(bad.stdout.strip().splitlines()[-1])["ok"] is False

    naive = runner.invoke(app, ["who-had", "17099999999", "--at", "2026-11-24T09:00"], env=env)
    assert naive.exit_code == 2
    assert "--at 2026-11-24T09:00: give the UTC offset too" in naive.stderr

    outside = runner.invoke(app, ["provision", "--count", "3", "--prefix", "1380"], env=env)
    assert outside.exit_code == 2
    assert "not inside a virtual-number range" in outside.stderr

    not_a_time = runner.invoke(app, ["expire", "--at", "yesterday"], env=env)
    assert not_a_time.exit_code == 2
    assert "--at yesterday: not an ISO 8601 time" in not_a_time.stderr


def test_provisioning_keeps_the_canary_block_out_of_the_pool(
    env: dict[str, str], settings: Settings
) -> None:
    guarded = {**env, "PARCELGUARD_CANARY_PREFIXES": "1708"}
    # The default prefix is the whole 170 range: a tenth of it is the canary block.
    provisioned = run(guarded, "provision", "--count", "300", "--seed", "5")
    assert (provisioned["prefix"], provisioned["added"]) == ("170", 300)
    assert provisioned["canary_blocks"] == ["1708"]
    assert run(guarded, "provision", "--count", "300", "--seed", "5")["added"] == 0
    with VirtualNumbers.open(settings.db_url) as numbers, numbers.engine.connect() as conn:
        pooled = [row[0] for row in conn.execute(sa.select(vnum_pool.c.number))]
    assert len(pooled) == 300
    assert not [n for n in pooled if n.startswith("1708")]
    refused = runner.invoke(app, ["provision", "--count", "5", "--prefix", "17081"], env=guarded)
    assert refused.exit_code == 2
    assert "--prefix 17081: inside the canary block 1708" in refused.stderr
    small = {**guarded, "PARCELGUARD_CANARY_PREFIXES": "1709999995"}
    full = runner.invoke(app, ["provision", "--count", "95", "--prefix", "170999999"], env=small)
    assert full.exit_code == 2
    assert "prefix 170999999 holds 90 numbers outside the canary blocks" in full.stderr
    every = run(small, "provision", "--count", "90", "--prefix", "170999999")
    assert every["added"] == 90


def test_the_configured_ranges_apply_and_bad_settings_are_named(
    env: dict[str, str], settings: Settings
) -> None:
    custom = {**env, "PARCELGUARD_VNUM_PREFIXES": "1718", "PARCELGUARD_VNUM_QUARANTINE_DAYS": "0"}
    provisioned = run(custom, "provision", "--count", "3")
    assert provisioned["prefix"] == "1718"
    refused = runner.invoke(app, ["route", "17090000001", "--device", "D1"], env=custom)
    assert refused.exit_code == 2
    assert "not in a virtual-number range (1718)" in refused.stderr
    bad_range = runner.invoke(app, ["stats"], env={**env, "PARCELGUARD_VNUM_PREFIXES": "27"})
    assert bad_range.exit_code == 2
    assert "PARCELGUARD_VNUM_PREFIXES: prefix '27'" in bad_range.stderr
    bad = runner.invoke(app, ["stats"], env={**env, "PARCELGUARD_VNUM_QUARANTINE_DAYS": "-1"})
    assert bad.exit_code == 2
    assert "PARCELGUARD_VNUM_QUARANTINE_DAYS: must be 0 or more" in bad.stderr
