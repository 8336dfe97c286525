"""``detect run --from-store``: the audit log and the store's workflow, exported, detected.

A small simulated world is loaded into the store (its workflow facts, its waybills into the
vault, and every access as an audit entry), then detection runs on the export, on both
backends.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.compute as pc
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from parcelguard.admin import key_provider, open_audit_log
from parcelguard.audit.entry import AuditEntry
from parcelguard.cli import app
from parcelguard.config import Settings
from parcelguard.detect.engine import Engine, integer_times, read_events
from parcelguard.detect.from_store import export_store
from parcelguard.detect.run import detect
from parcelguard.forensics.canary import plant
from parcelguard.simulate.into_store import audit_entries, put_world
from parcelguard.simulate.run import scenario_names, simulate
from parcelguard.simulate.workflow import put_workflow
from parcelguard.storage import connect_current
from parcelguard.storage.schema import case_waybills, investigation_cases, parcel_exceptions
from parcelguard.vault import Vault
from tests.detect.conftest import TINY

runner = CliRunner()


@pytest.fixture
def loaded(settings: Settings) -> tuple[Settings, dict[str, object]]:
    tables = simulate(TINY, scenario_names("all"))
    engine = connect_current(settings.db_url)
    try:
        put_workflow(engine, tables)
    finally:
        engine.dispose()
    put_world(tables, TINY.seed, settings, key_provider(settings))
    log = open_audit_log(settings)
    entries = audit_entries(tables["accesses"])
    try:
        for start in range(0, len(entries), 5_000):
            log.append(entries[start : start + 5_000])
    finally:
        log.engine.dispose()
    return settings, {"tables": tables}


def test_the_export_detects_what_the_folder_does(
    loaded: tuple[Settings, dict[str, object]], tmp_path: Path
) -> None:
    settings, world = loaded
    export = export_store(settings.db_url, tmp_path / "events")
    tables = world["tables"]
    assert isinstance(tables, dict)
    assert export.rows["accesses"] == tables["accesses"].num_rows
    assert export.rows["waybills"] == tables["waybills"].num_rows
    events = read_events(tmp_path / "events")
    # Event ids are audit entry indexes, so the evidence turns into inclusion proofs.
    assert pc.all(pc.starts_with(events["accesses"]["event_id"], "audit-")).as_py()
    from_store = detect(Engine("duckdb", events))
    labelled = set(tables["labels"]["employee_id"].to_pylist())
    alerted = {a.employee_id for a in from_store.alerts}
    assert alerted & labelled
    assert len(alerted - labelled) <= 1
    for alert in from_store.alerts:
        assert all(i.startswith("audit-") for i in alert.evidence)


def test_canaries_are_left_out_of_the_workflow_but_not_out_of_the_log(
    loaded: tuple[Settings, dict[str, object]], tmp_path: Path
) -> None:
    settings, world = loaded
    tables = world["tables"]
    assert isinstance(tables, dict)
    last: datetime = pc.max(tables["waybills"]["created_at"]).as_py().astimezone(UTC)
    station = next(r["site_id"] for r in tables["sites"].to_pylist() if r["kind"] == "station")
    sender = tables["waybills"]["sender_id"][0].as_py()
    vault = Vault.open(settings.db_url, key_provider(settings), retention_days=10_000,
                       nonce_budget=2**30, clock=lambda: last + timedelta(hours=1))  # fmt: skip
    pattern = settings.waybill_pattern
    with vault:
        planted = [
            c.waybill_no
            for kind, value in (("station", station), ("sender", sender))
            for c in plant(vault, kind, value, 3, now=last, waybill_pattern=pattern, seed=3).planted
        ]
    clerk = next(r["employee_id"] for r in tables["employees"].to_pylist()
                 if r["site_id"] == station)  # fmt: skip
    log = open_audit_log(settings)
    try:
        log.append([AuditEntry.at(0, last + timedelta(minutes=5), actor=clerk, action="reveal",
                                  waybill_no=planted[0], field="phone", purpose="exception",
                                  decision="allow", reason="test", channel="web")])  # fmt: skip
    finally:
        log.engine.dispose()
    export = export_store(settings.db_url, tmp_path / "events")
    assert export.canaries_skipped == 6
    assert export.as_dict()["canaries_skipped"] == 6
    events = read_events(tmp_path / "events")
    # Not a parcel: no waybill row, no open exception in the station's queue, so no scan.
    assert export.rows["waybills"] == tables["waybills"].num_rows
    for table in ("waybills", "scans"):
        numbers = set(events[table]["waybill_no"].to_pylist())
        assert not numbers & set(planted), table
    engine = connect_current(settings.db_url)
    try:
        with engine.connect() as conn:
            opened = conn.execute(sa.select(sa.func.count()).select_from(parcel_exceptions))
            assert export.rows["scans"] == opened.scalar_one() - 3
    finally:
        engine.dispose()
    # The reveal of bait stays in the export, as evidence, and no workflow explains it.
    from parcelguard.detect import features as F

    eng = Engine("duckdb", {**events, "cases": integer_times(export.cases)})
    enriched = eng.arrow(F.enriched_accesses(eng.tables, F.Slack(), r"PG\d{12}"))
    bait = enriched.filter(pc.equal(enriched["waybill_no"], planted[0])).to_pylist()
    assert [(r["employee_id"], r["reveal"], r["known"], r["explained"]) for r in bait] == [
        (clerk, True, False, False)
    ]


def test_an_investigation_case_explains_the_officers_lookups(
    loaded: tuple[Settings, dict[str, object]], tmp_path: Path
) -> None:
    settings, world = loaded
    tables = world["tables"]
    assert isinstance(tables, dict)
    acc = tables["accesses"]
    officer_rows = acc.filter(pc.equal(acc["purpose"], "investigation")).to_pylist()
    assert officer_rows, "the world has investigations"
    first = officer_rows[0]
    engine = connect_current(settings.db_url)
    try:
        with engine.begin() as conn:
            conn.execute(investigation_cases.insert(), [{
                "case_id": "C1", "opened_by": first["employee_id"], "approved_by": None,
                "justification": "test", "opened_at": first["ts"] - timedelta(hours=1),
                "closed_at": None,
            }])  # fmt: skip
            conn.execute(
                case_waybills.insert(), [{"case_id": "C1", "waybill_no": first["waybill_no"]}]
            )
    finally:
        engine.dispose()
    export = export_store(settings.db_url, tmp_path / "events")
    assert export.cases.num_rows == 1
    events = read_events(tmp_path / "events")
    with_cases = {**events, "cases": integer_times(export.cases)}

    def unexplained(t: dict[str, object]) -> int:
        from parcelguard.detect import features as F

        eng = Engine("duckdb", t)  # type: ignore[arg-type]
        days = eng.arrow(F.actor_days(F.enriched_accesses(eng.tables, F.Slack(), r"PG\d{12}")))
        officer = days.filter(pc.equal(days["employee_id"], first["employee_id"]))
        return int(pc.sum(officer["unexplained"]).as_py() or 0)

    assert unexplained(with_cases) == unexplained(events) - 1


def test_the_cli_exports_and_detects(loaded: tuple[Settings, dict[str, object]], tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    settings, _ = loaded
    monkeypatch.setenv("PARCELGUARD_HOME", str(settings.home))
    monkeypatch.setenv("PARCELGUARD_DB", settings.db_url)
    out = tmp_path / "alerts.jsonl"
    until = datetime(2016, 10, 2, 16, 0, tzinfo=UTC).isoformat()  # the end of the first day
    result = runner.invoke(
        app, ["detect", "run", "--from-store", "--until", until, "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["exported"]["rows"]["accesses"] > 0
    assert summary["alerts"] == len(out.read_text("utf-8").splitlines())
    full = runner.invoke(
        app, ["detect", "run", "--events", str(tmp_path / "no"), "--out", str(out)]
    )
    assert full.exit_code == 2
    missing = runner.invoke(app, ["detect", "run", "--out", str(out)])
    assert missing.exit_code == 2
    assert "--events" in missing.stderr
