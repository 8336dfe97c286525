"""The live simulation: a world's reveals through the real door, in both regimes.

One small world (seed 11, not the demo's 2016) is decided once per regime for the module;
slices of five simulated minutes keep the file well under a minute.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from parcelguard.admin.initialise import LEGACY_POLICY_DIR
from parcelguard.cli import app
from parcelguard.core.errors import BadInput
from parcelguard.reveal.engine import CedarRequest, PolicyEngine
from parcelguard.reveal.facts import RevealRequest
from parcelguard.reveal.service import RevealDecision
from parcelguard.simulate.live import (
    SCRATCH_BYTES_PER_WAYBILL,
    run_live,
    run_live_regimes,
    scratch_root,
    simulate_for_live,
)
from parcelguard.simulate.live_insiders import Insider, variants
from parcelguard.simulate.live_report import (
    InsiderFigures,
    LiveReport,
    Outcome,
    count_records,
    leaked_waybills,
)
from parcelguard.simulate.world import WorldConfig

CONFIG = WorldConfig(seed=11, days=3, employees=300, waybills_per_day=4_000)
SCENARIOS = ["jingzhou-2016"]
BATCH = 300
T0 = datetime(2016, 10, 2, 5, 0, tzinfo=UTC)
runner = CliRunner()


@pytest.fixture(scope="module")
def world() -> dict[str, pa.Table]:
    return simulate_for_live(CONFIG, SCENARIOS)


@pytest.fixture(scope="module")
def legacy(world: dict[str, pa.Table]) -> LiveReport:
    return run_live(CONFIG, SCENARIOS, "legacy", batch_seconds=BATCH, tables=world)


@pytest.fixture(scope="module")
def guarded(world: dict[str, pa.Table]) -> LiveReport:
    return run_live(CONFIG, SCENARIOS, "guarded", batch_seconds=BATCH, tables=world)


def the(report: LiveReport, role: str) -> InsiderFigures:
    (found,) = [f for f in report.insiders if f.scenario == "jingzhou-2016" and f.role == role]
    return found


# -- the legacy policies ---------------------------------------------------------------------


def cedar(role: str, *, active: bool = True, assigned: bool = False) -> CedarRequest:
    stamp = int(T0.timestamp())
    return CedarRequest(
        f"E-{role}-{active}-{assigned}",  # one batch: one employee id, one set of facts
        {"role": role, "site": "ST0001", "active": active},
        "PG000000000001",
        {"dest_site": "ST0002", "current_site": "ST0003", "created_at": stamp - 3_600},
        {
            "field": "phone",
            "purpose": "other",
            "channel": "web",
            "now": stamp,
            "device_registered": False,
            "device_kind": "",
            "assignment": {"assigned": assigned, "from": stamp - 3_600, "until": stamp + 3_600},
            "dispatched_at": 0,
            "delivered_at": 0,
            "at_actor_site": False,
            "open_exception_at_actor_site": False,
            "ticket_assigned_to_actor": False,
            "case": {"open": False, "justified": False, "approved_by_other": False},
        },
    )


def test_the_legacy_policies_load_validate_and_grant_the_case_rights() -> None:
    engine = PolicyEngine.load(LEGACY_POLICY_DIR)
    permits = [i for i in engine.policies.values() if i.effect == "permit"]
    assert permits
    assert all(i.form == "plaintext" for i in permits)
    decided = engine.decide(
        [
            cedar("warehouse_clerk"),
            cedar("cs_agent"),
            cedar("station_manager"),
            cedar("security_officer"),
            cedar("hq_analyst"),
            cedar("courier", assigned=True),
            cedar("courier"),
            cedar("it_engineer"),
            cedar("warehouse_clerk", active=False),
        ],
        validate=True,  # the facts fit the schema, too
    )
    assert [d.errors for d in decided] == [()] * len(decided)
    assert [(d.allowed, d.form) for d in decided[:6]] == [(True, "plaintext")] * 6
    assert {d.reason for d in decided[:5]} == {"legacy_lookup"}
    assert decided[5].reason == "assigned_courier"
    assert [(d.allowed, d.reason) for d in decided[6:]] == [
        (False, "no_matching_policy"),
        (False, "no_matching_policy"),
        (False, "account_inactive"),
    ]


# -- the record-counting rule ---------------------------------------------------------------


def seen(waybill: str, field: str, form: str | None, *, allowed: bool = True) -> Outcome:
    request = RevealRequest(
        actor="E000001",
        waybill_no=waybill,
        field=field,
        purpose="other",
        device_id="WE000001",
        channel="web",
        ip="10.0.0.1",
        request_id="A1",
    )
    decision = RevealDecision(allowed, form if allowed else None, (), "x", "A1", value="v")
    return Outcome.of(request, decision, T0, T0)


def test_a_record_is_a_plaintext_phone_or_a_name_and_address_of_one_waybill() -> None:
    outcomes = [
        seen("PG1", "phone", "virtual_number"),  # routes only from the holder's device
        seen("PG2", "phone", "plaintext"),  # counts
        seen("PG2", "name", "plaintext"),  # same waybill: still one record
        seen("PG3", "name", "plaintext"),
        seen("PG3", "address", "plaintext"),  # name + address: one record
        seen("PG3", "address", "plaintext"),
        seen("PG4", "name", "plaintext"),  # a name alone finds nobody
        seen("PG5", "address", "masked"),
        seen("PG5", "name", "plaintext"),  # a masked address does not complete it
        seen("PG6", "phone", "plaintext", allowed=False),
        seen("PG7", "address", "plaintext"),
        seen("PG8", "name", "plaintext"),  # name and address of different waybills
    ]
    assert leaked_waybills(outcomes) == {"PG2", "PG3"}
    assert count_records(outcomes) == 2
    assert count_records([]) == 0


# -- insiders adapt ----------------------------------------------------------------------------


def test_an_insider_retries_a_little_then_slows_then_stops() -> None:
    insider = Insider.drawn("E000001", "warehouse_clerk", np.random.default_rng(1))
    assert 5 <= insider.patience < insider.give_up
    assert 2 <= insider.retries <= 3
    asked = RevealRequest("E000001", "PG000000000001", "phone", "exception", "WE000001", "web",
                          "10.0.0.1", "A1")  # fmt: skip
    assert all(v != asked for v in variants(asked, "warehouse_clerk"))
    chain = [asked]
    for _ in range(10):  # one waybill: each denial of the chain brings the next way, then none
        retries = insider.learn([(chain[-1], False, False)])
        if not retries:
            break
        chain += retries
    assert len(chain) - 1 == insider.retries
    while insider.state == "active":
        insider.learn([(asked, False, False)])
    assert insider.state == "slowed"
    sent = sum(insider.admit() for _ in range(200))
    assert 0 < sent < 200
    while insider.state == "slowed":
        insider.learn([(asked, False, False)])
    assert insider.state == "stopped"
    assert not insider.admit()
    insider.learn([(asked, True, False)])  # an allow gives them heart again
    assert insider.state == "active"
    insider.learn([(asked, False, True)])
    assert insider.state == "contained"
    assert not insider.admit()


def test_a_denied_insider_sends_fewer_requests_than_planned(guarded: LiveReport) -> None:
    clerk = the(guarded, "warehouse_clerk")
    assert clerk.denied > 0
    assert clerk.requests < clerk.planned / 2


# -- the two regimes -------------------------------------------------------------------------


def test_the_legacy_revealer_takes_many_records(legacy: LiveReport) -> None:
    clerk = the(legacy, "warehouse_clerk")
    assert clerk.records_obtained > 100  # 170 observed
    assert clerk.records_before_containment == clerk.records_obtained
    assert clerk.contained_at is None
    assert the(legacy, "cs_agent").records_obtained > 20
    assert legacy.vnum_demo is None  # the legacy rights hand out plaintext only


def test_the_guarded_revealer_takes_few(guarded: LiveReport, legacy: LiveReport) -> None:
    assert the(guarded, "warehouse_clerk").records_obtained < 50
    total = sum(f.records_obtained for f in guarded.insiders)
    assert total < sum(f.records_obtained for f in legacy.insiders) / 4
    figures = guarded.as_dict()
    assert figures["legit_reveals"] == legacy.as_dict()["legit_reveals"] > 1_000
    assert float(figures["legit_allowed_share"]) > 0.8  # type: ignore[arg-type]
    assert figures["employee_days"] == CONFIG.employees * CONFIG.days


def test_both_regimes_at_once_decide_what_each_run_alone_decides(legacy: LiveReport) -> None:
    # The legacy run goes to a child process that simulates the world again from the seed:
    # it must be the same world and the same decisions as the legacy run made here.
    runs = run_live_regimes(CONFIG, SCENARIOS, ["guarded", "legacy"], batch_seconds=BATCH)
    assert list(runs) == ["guarded", "legacy"]
    child = runs["legacy"]
    assert child.regime == "legacy"
    assert (child.waybills, child.employees) == (legacy.waybills, legacy.employees)
    assert child.decisions == legacy.decisions
    assert [f.records_obtained for f in child.insiders] == [
        f.records_obtained for f in legacy.insiders
    ]
    assert runs["guarded"].regime == "guarded"


def test_a_run_in_a_child_that_fails_is_named_as_bad_input() -> None:
    # The run here is given a small world; the child simulates one from options it refuses.
    small = WorldConfig(seed=11, days=2, employees=300, waybills_per_day=300)
    tables = simulate_for_live(small, SCENARIOS)
    refused = WorldConfig(seed=11, days=2, employees=12, waybills_per_day=300)
    with pytest.raises(BadInput, match="--employees >= 100"):
        run_live_regimes(refused, SCENARIOS, ["legacy", "guarded"], tables=tables)


def test_a_guard_configuration_from_elsewhere_is_what_the_guarded_run_applies(
    guarded: LiveReport, world: dict[str, pa.Table], tmp_path: Path
) -> None:
    lenient = tmp_path / "guard.toml"
    lenient.write_text(
        "[guard]\n"
        + "".join(
            f"{name} = 100000\n"
            for name in (
                "denied_contain_per_10min",
                "denied_contain_per_day",
                "refused_unlinked_contain_per_day",
                "foreign_contain_per_day",
                "unlinked_contain_per_day",
            )
        ),
        encoding="utf-8",
    )
    run = run_live(CONFIG, SCENARIOS, "guarded", batch_seconds=BATCH, tables=world,
                   guard_config=lenient)  # fmt: skip
    assert the(guarded, "warehouse_clerk").contained_at is not None
    assert the(run, "warehouse_clerk").contained_at is None  # nothing left that contains her
    broken = tmp_path / "broken.toml"
    broken.write_text("[guard]\nno_such_setting = 1\n", encoding="utf-8")
    with pytest.raises(BadInput, match=r"broken\.toml"):
        run_live(CONFIG, SCENARIOS, "guarded", tables=world, guard_config=broken)
    with pytest.raises(BadInput, match="no such file"):
        run_live(CONFIG, SCENARIOS, "guarded", tables=world, guard_config=tmp_path / "none")


def test_the_scratch_store_lives_in_memory_when_there_is_room(
    legacy: LiveReport, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TMPDIR", raising=False)
    if scratch_root(legacy.waybills) is None:
        pytest.skip("no room in /dev/shm on this machine")
    assert legacy.scratch == "memory"
    assert 0 < legacy.scratch_mib < SCRATCH_BYTES_PER_WAYBILL * legacy.waybills / 2**20
    assert scratch_root(10**12) is None  # a world that cannot fit goes to the disk
    monkeypatch.setenv("TMPDIR", "/tmp")
    assert scratch_root(legacy.waybills) is None  # the operator's TMPDIR wins


def test_a_virtual_number_rings_only_from_the_holders_device(guarded: LiveReport) -> None:
    demo: Any = guarded.vnum_demo
    assert demo is not None
    assert demo["from_holder_device"]["connected"] is True
    assert demo["from_other_device"]["connected"] is False


def test_the_report_holds_no_plaintext(guarded: LiveReport, world: dict[str, pa.Table]) -> None:
    text = json.dumps(guarded.as_dict(), ensure_ascii=False)
    assert "value" not in text
    assert "路" not in text  # no address made it in
    assert "栋" not in text


def test_minutes_to_containment_counts_from_the_first_malicious_access() -> None:
    figures = InsiderFigures("E1", "x", "cs_agent", T0, 5, 3, 3, {}, 0, 0,
                             T0 + timedelta(minutes=90))  # fmt: skip
    assert figures.minutes_to_containment == 90.0
    assert figures.as_dict()["contained_at"] == "2016-10-02T14:30:00+08:00"


# -- the command -----------------------------------------------------------------------------

SMALL = ["--seed", "11", "--days", "2", "--employees", "300", "--waybills-per-day", "3000"]


def test_the_cli_ends_with_one_json_line_of_the_figures() -> None:
    result = runner.invoke(
        app,
        [
            "simulate",
            "live",
            "--regime",
            "legacy",
            *SMALL,
            "--scenarios",
            "jingzhou-2016",
            "--batch-seconds",
            "600",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("insiders", "legit_reveals", "legit_allowed_share", "honest_contained",
                "employee_days"):  # fmt: skip
        assert key in figures, key
    assert figures["regime"] == "legacy"
    for insider in figures["insiders"]:
        for key in ("employee_id", "scenario", "records_obtained",
                    "records_before_containment", "contained_at"):  # fmt: skip
            assert key in insider, key


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--regime", "strict"], "--regime strict"),
        (["--scenarios", "snoopr"], "--scenarios: unknown snoopr"),
        (["--employees", "50"], "--employees"),
        (["--start", "2016-13-01"], "--start 2016-13-01"),
        (["--batch-seconds", "0"], "--batch-seconds 0"),
    ],
)
def test_bad_options_exit_2_naming_the_option(args: list[str], named: str) -> None:
    result = runner.invoke(app, ["simulate", "live", *SMALL, *args])
    assert result.exit_code == 2
    assert named in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
