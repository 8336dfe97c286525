"""``parcelguard api token`` and the checks ``serve`` makes before it starts."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from parcelguard.api.auth import ApiTokens, api_key
from parcelguard.cli.serve import cli, log_config, parse_ttl
from parcelguard.core.errors import BadInput
from tests.reveal.conftest import World

runner = CliRunner()


def test_a_token_is_printed_alone_and_verifies(world: World, env: dict[str, str]) -> None:
    result = runner.invoke(cli, ["api", "token", "--employee", "C1", "--device", "D-C1"], env=env)
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.count(".") == 1
    tokens = ApiTokens(api_key(world.settings, create=False))
    from parcelguard.core.clock import utc_now

    claims = tokens.open(token, utc_now())
    assert (claims.employee_id, claims.device_id) == ("C1", "D-C1")
    assert claims.expires_at - claims.issued_at == 8 * 3600


def test_the_json_form_names_the_role_and_expiry(world: World, env: dict[str, str]) -> None:
    result = runner.invoke(
        cli,
        ["api", "token", "--employee", "O1", "--device", "D-O1", "--ttl", "30m", "--json"],
        env=env,
    )
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert (line["ok"], line["role"], line["device_id"]) == (True, "security_officer", "D-O1")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--employee", "X1", "--device", "D-X1"], "account_inactive"),
        (["--employee", "C1", "--device", "D-C2"], "device_not_registered"),
        (["--employee", "C1", "--device", "D-C1", "--ttl", "soon"], "--ttl"),
        (["--employee", "C1", "--device", "D-C1", "--ttl", "90d"], "--ttl"),
    ],
)
def test_a_token_that_could_never_work_is_not_minted(
    world: World, env: dict[str, str], args: list[str], needle: str
) -> None:
    result = runner.invoke(cli, ["api", "token", *args], env=env)
    assert result.exit_code == 2
    assert needle in result.stderr
    assert "Traceback" not in result.output


def test_serve_refuses_a_missing_store_in_one_line(tmp_path, env: dict[str, str]) -> None:
    broken = {**env, "PARCELGUARD_DB": f"sqlite:///{tmp_path / 'nowhere' / 'pg.db'}"}
    result = runner.invoke(cli, ["serve", "--port", "0"], env=broken)
    assert result.exit_code == 1
    assert result.stderr.startswith("parcelguard: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_ttl_and_log_configuration() -> None:
    assert parse_ttl("8h") == timedelta(hours=8)
    assert parse_ttl("90") == timedelta(seconds=90)
    assert parse_ttl("7d") == timedelta(days=7)
    with pytest.raises(BadInput):
        parse_ttl("1w")
    config = log_config("info", access_log=True)
    assert config["loggers"]["uvicorn.access"]["handlers"] == []  # query strings stay out
    assert config["loggers"]["parcelguard.api.access"]["level"] == "INFO"
    assert log_config("info", access_log=False)["loggers"]["parcelguard.api.access"]["level"] == (
        "WARNING"
    )


def test_serve_names_a_host_that_does_not_resolve(world: World, env: dict[str, str]) -> None:
    result = runner.invoke(cli, ["serve", "--host", "no-such-host.invalid", "--port", "0"], env=env)
    assert result.exit_code == 2
    assert "--host no-such-host.invalid: cannot resolve it" in result.stderr
