"""The guard's ladder, pure: which signals step up, mask or contain, and with which reasons."""

from __future__ import annotations

from pathlib import Path

import pytest

from parcelguard.core.errors import BadInput
from parcelguard.reveal.guard.config import DEFAULT_QUOTAS, GuardConfig
from parcelguard.reveal.guard.judge import (
    ALLOW,
    CONTAIN,
    DENIED,
    FOREIGN,
    MASKED,
    PLAINTEXT,
    SENSITIVE,
    STEP_UP,
    UNLINKED,
    Signals,
    judge,
)

CONFIG = GuardConfig()


def courier(**changes: object) -> Signals:
    base = {
        "role": "courier",
        "site_kind": "",
        "sensitive": True,
        "plaintext": False,
        "linked": True,
        "denied": False,
        "foreign": False,
        "new_network": False,
    }
    base.update(changes)
    return Signals(**base)  # type: ignore[arg-type]


def test_an_ordinary_reveal_within_quota_is_allowed_without_reasons() -> None:
    assert judge(courier(), {SENSITIVE: (5, 40, 120)}, CONFIG).action == ALLOW


def test_over_a_quota_steps_up_naming_the_window() -> None:
    ten_min, hour, day = DEFAULT_QUOTAS["courier"]
    verdict = judge(courier(), {SENSITIVE: (ten_min + 1, hour, day)}, CONFIG)
    assert verdict.action == STEP_UP
    assert verdict.reasons == ("over_quota_10m",)


def test_far_over_a_quota_contains() -> None:
    _, _, day = DEFAULT_QUOTAS["courier"]
    verdict = judge(courier(), {SENSITIVE: (1, 1, int(day * CONFIG.hard_factor) + 1)}, CONFIG)
    assert verdict == verdict.__class__(CONTAIN, ("far_over_quota_1d",))


def test_denials_piling_up_contain_even_when_the_request_itself_is_denied() -> None:
    signal = courier(sensitive=False, denied=True)
    quiet = judge(signal, {DENIED: (CONFIG.denied_contain_per_10min - 1, 14, 14)}, CONFIG)
    assert quiet.action == ALLOW
    loud = judge(signal, {DENIED: (CONFIG.denied_contain_per_10min, 15, 15)}, CONFIG)
    assert loud.action == CONTAIN
    assert "denials_piling_up" in loud.reasons


def test_other_carriers_numbers_contain_after_a_few() -> None:
    signal = courier(sensitive=False, denied=True, foreign=True)
    n = CONFIG.foreign_contain_per_day
    assert judge(signal, {FOREIGN: (n - 1, n - 1, n - 1)}, CONFIG).action == ALLOW
    assert judge(signal, {FOREIGN: (n, n, n)}, CONFIG).reasons == ("foreign_numbers",)


def test_unlinked_reveals_step_up_then_contain() -> None:
    signal = courier(linked=False)
    few = CONFIG.unlinked_per_hour
    assert judge(signal, {SENSITIVE: (1, 1, 1), UNLINKED: (few, few, few)}, CONFIG).action == ALLOW
    more = judge(signal, {SENSITIVE: (1, 4, 4), UNLINKED: (few + 1, few + 1, few + 1)}, CONFIG)
    assert more.reasons == ("no_workflow_link",)
    many = CONFIG.unlinked_contain_per_day
    assert judge(signal, {UNLINKED: (1, 1, many)}, CONFIG).action == CONTAIN


def test_a_new_network_steps_up_only_sensitive_requests() -> None:
    assert judge(courier(new_network=True), {}, CONFIG).reasons == ("new_network",)
    masked = courier(new_network=True, sensitive=False)
    assert judge(masked, {}, CONFIG).action == ALLOW


def test_past_the_plaintext_quota_masks_are_handed_out() -> None:
    signal = courier(plaintext=True)
    n = CONFIG.plaintext_per_day
    counts = {SENSITIVE: (1, 1, 1), PLAINTEXT: (1, 1, n + 1)}
    assert judge(signal, counts, CONFIG).action == MASKED


def test_an_unknown_role_gets_the_low_fallback_quota() -> None:
    verdict = judge(courier(role="contractor"), {SENSITIVE: (6, 6, 6)}, CONFIG)
    assert verdict.action == STEP_UP


def test_configuration_file_overrides_and_floors(tmp_path: Path) -> None:
    path = tmp_path / "guard.toml"
    path.write_text(
        "[guard]\nplaintext_per_day = 40\n[quotas]\ncourier = [80, 250, 700]\n", encoding="utf-8"
    )
    config = GuardConfig.load(path)
    assert config.plaintext_per_day == 40
    assert config.quota("courier") == (80, 250, 700)
    assert config.quota("cs_agent") == DEFAULT_QUOTAS["cs_agent"]
    assert GuardConfig.load(tmp_path / "absent.toml") == GuardConfig()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[quotas]\ncourier = [1, 2, 3]\n", "under the floor"),
        ("[quotas]\ncourier = [1, 2]\n", "three positive whole numbers"),
        ("[guard]\nhard_factr = 3\n", "unknown setting"),
        ("[guard]\nplaintext_per_day = -1\n", "positive number"),
        ("[gaurd]\n", "unknown table"),
        ("this is not toml", "cannot read"),
    ],
)
def test_bad_configuration_is_named(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "guard.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(BadInput, match=problem):
        GuardConfig.load(path)
