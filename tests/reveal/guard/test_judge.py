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
    FRESH_TARGETED,
    MASKED,
    PLAINTEXT,
    REFUSED_UNLINKED,
    REMOTE,
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


# -- peer groups by site kind --------------------------------------------------------------------


def test_a_role_at_a_site_kind_gets_its_own_quota() -> None:
    config = GuardConfig.from_mapping({"quotas": {"warehouse_clerk@hub": [30, 90, 300]}})
    assert config.quota("warehouse_clerk", "hub") == (30, 90, 300)
    assert config.quota("warehouse_clerk", "warehouse") == DEFAULT_QUOTAS["warehouse_clerk"]
    hub = courier(role="warehouse_clerk", site_kind="hub")
    at_warehouse = courier(role="warehouse_clerk", site_kind="warehouse")
    counts = {SENSITIVE: (21, 21, 21)}
    assert judge(hub, counts, config).action == ALLOW
    assert judge(at_warehouse, counts, config).action == CONTAIN  # past 2x its 10-min quota


# -- signals that need no history ----------------------------------------------------------------


def test_remote_counts_only_when_the_workflow_does_not_explain_it() -> None:
    assert REMOTE in courier(linked=False, remote=True).kinds()
    assert REMOTE not in courier(linked=True, remote=True).kinds()  # an agent's ticket
    assert REMOTE not in courier(linked=False, remote=True, sensitive=False).kinds()


def test_an_unlinked_remote_reveal_steps_up_and_many_contain() -> None:
    signal = courier(role="cs_agent", linked=False, remote=True)
    first = judge(signal, {SENSITIVE: (1, 1, 1), UNLINKED: (1, 1, 1), REMOTE: (1, 1, 1)}, CONFIG)
    assert first.action == STEP_UP
    assert first.reasons == ("remote_waybill",)
    linked = courier(role="cs_agent", linked=True, remote=True)
    assert judge(linked, {SENSITIVE: (1, 1, 1)}, CONFIG).action == ALLOW
    n = CONFIG.remote_contain_per_day
    many = judge(signal, {SENSITIVE: (1, 1, n), REMOTE: (1, 1, n)}, CONFIG)
    assert many.action == CONTAIN
    assert "remote_reveals" in many.reasons


def test_refused_lookups_without_a_workflow_link_are_counted_and_many_contain() -> None:
    refused = courier(role="warehouse_clerk", linked=False, sensitive=False, denied=True)
    assert REFUSED_UNLINKED in refused.kinds()
    foreign = courier(role="warehouse_clerk", linked=False, sensitive=False, denied=True,
                      foreign=True)  # fmt: skip
    assert REFUSED_UNLINKED in foreign.kinds()  # another carrier's number on her list
    wrong_device = courier(linked=True, sensitive=False, denied=True)
    assert REFUSED_UNLINKED not in wrong_device.kinds()  # his own parcel: not a list
    n = CONFIG.refused_unlinked_contain_per_day
    few = {DENIED: (1, 1, n - 1), REFUSED_UNLINKED: (1, 1, n - 1)}
    assert judge(refused, few, CONFIG).action == ALLOW
    many = judge(refused, {DENIED: (1, 1, n), REFUSED_UNLINKED: (1, 1, n)}, CONFIG)
    assert many.action == CONTAIN
    assert many.reasons == ("unexplained_lookups_refused",)


def test_fresh_targeted_reveals_step_up_past_a_few_and_contain_past_more() -> None:
    signal = courier(role="station_manager", linked=False, fresh_targeted=True)
    few = CONFIG.fresh_targeted_per_hour
    quiet = {SENSITIVE: (1, 1, 1), UNLINKED: (1, 1, 1), FRESH_TARGETED: (few - 1,) * 3}
    assert judge(signal, quiet, CONFIG).action == ALLOW
    loud = {SENSITIVE: (2, 2, 2), UNLINKED: (2, 2, 2), FRESH_TARGETED: (few,) * 3}
    assert judge(signal, loud, CONFIG).reasons == ("fresh_targeted",)
    n = CONFIG.fresh_targeted_contain_per_day
    day = {SENSITIVE: (1, 1, n), UNLINKED: (1, 1, n), FRESH_TARGETED: (1, 1, n)}
    assert judge(signal, day, CONFIG).reasons == ("fresh_targeted_reveals",)


def test_sheet_order_steps_up_then_contains_even_denied_requests() -> None:
    step, stop = CONFIG.sheet_run_step_up, CONFIG.sheet_run_contain
    assert judge(courier(linked=False, run=step - 1), {}, CONFIG).action == ALLOW
    assert judge(courier(linked=False, run=step), {}, CONFIG).reasons == ("sheet_order",)
    assert judge(courier(linked=True, run=stop), {}, CONFIG).action == ALLOW  # his own route
    denied = courier(linked=False, sensitive=False, denied=True, run=stop)
    assert judge(denied, {}, CONFIG).reasons == ("sheet_order_run",)


def test_new_thresholds_are_configuration() -> None:
    config = GuardConfig.from_mapping({"guard": {"sheet_run_step_up": 12, "fresh_hours": 24}})
    assert (config.sheet_run_step_up, config.fresh_hours) == (12, 24)
    with pytest.raises(BadInput, match="positive number"):
        GuardConfig.from_mapping({"guard": {"remote_per_hour": 0}})
