"""``parcelguard audit export``: the log as the exchange format's accesses table (both backends).

Entries go in through the real log (``open_audit_log``), the export is read back with the
format's own reader, and the folder is checked with the format's validator: no mocks.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from parcelguard.admin import open_audit_log
from parcelguard.audit import merkle
from parcelguard.audit.entry import AuditEntry
from parcelguard.audit.export import UNKNOWN, export_accesses, sequence_of
from parcelguard.audit.log import AuditLog, LogIntegrityError
from parcelguard.cli import app
from parcelguard.config import Settings
from parcelguard.core.clock import CARRIER_TZ
from parcelguard.core.errors import BadInput
from parcelguard.events import read_folder, validate_folder, write_folder
from parcelguard.events.schema import TABLES
from parcelguard.storage.schema import audit_entries
from tests.audit.test_log import entries
from tests.events.world import build, world_rows

START = datetime(2016, 10, 3, 1, 0, tzinfo=UTC)  # 09:00 in the carrier's zone
CHECKER = Path(__file__).resolve().parents[3] / "shared" / "spec" / "validate_events.py"
runner = CliRunner()


def entry(second: int, **text: str) -> AuditEntry:
    """A complete reveal at START + ``second``; keyword arguments override its fields."""
    fields = {
        "actor": f"E{second % 5:04d}",
        "action": "reveal",
        "waybill_no": f"PG{316508274413 + second:012d}",
        "field": "phone",
        "purpose": "delivery",
        "decision": "allow",
        "reason": "assigned_courier",
        "policy_id": "default",
        "request_id": f"r{second}",
        "channel": "handheld",
        "device": f"D{second % 3:02d}",
        "ip": f"10.0.{second % 7}.{second % 250 + 1}",
    }
    return AuditEntry.at(0, START + timedelta(seconds=second), **{**fields, **text})


def varied() -> list[AuditEntry]:
    """Every access action of the format, with and without waybill, field and purpose."""
    return [
        entry(0, action="login", waybill_no="", field="", purpose="", reason="ok"),
        entry(1),
        entry(2, action="search", field="", purpose="customer_service", channel="web"),
        entry(3, action="view_masked", field="", waybill_no="SF1234567890123"),
        entry(4, action="export", field="address", purpose="other", channel="api"),
        entry(5, action="login_failed", waybill_no="", field="", purpose="", decision="deny"),
        entry(6, field="name", purpose="investigation", decision="deny", reason="no_assignment"),
        replace(entry(7), time_us=entry(7).time_us + 250),  # a fraction of a second
    ]


@pytest.fixture
def log(settings: Settings) -> AuditLog:
    return open_audit_log(settings)


def accesses(folder: Path) -> list[dict[str, object]]:
    return list(read_folder(folder, ["accesses"])["accesses"].to_pylist())


def around(export: Path, actors: set[str], fmt: str) -> Path:
    """The export plus the other tables of a small valid world whose employees include the
    actors: accesses.employee_id must name employees, and the validator checks that."""
    rows = world_rows()
    employees = rows["employees"]
    for actor in sorted(actors - set(employees["employee_id"])):  # type: ignore[arg-type]
        employees["employee_id"].append(actor)
        employees["role"].append("courier")
        employees["site_id"].append("S01")
        employees["hired_on"].append(employees["hired_on"][0])
        employees["left_on"].append(None)
    world = build(rows)
    del world["accesses"]
    write_folder(export, world, fmt)  # type: ignore[arg-type]
    return export


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_exported_rows_equal_the_entries(log: AuditLog, tmp_path: Path, fmt: str) -> None:
    written = varied()
    log.append(written)
    out = tmp_path / "export"
    result = export_accesses(log.engine, out, fmt=fmt)  # type: ignore[arg-type]
    assert sorted(p.name for p in out.iterdir()) == [f"accesses.{fmt}"]
    rows = accesses(out)
    assert len(rows) == len(written) == result.accesses_written == result.entries_read
    assert result.skipped == {}
    assert result.filled == {}
    for index, (row, e) in enumerate(zip(rows, written, strict=True)):
        assert row["event_id"] == f"audit-{index}"
        assert sequence_of(str(row["event_id"])) == index
        ts = row["ts"]
        assert isinstance(ts, datetime)
        assert ts == e.time
        assert ts.utcoffset() == timedelta(hours=8)
        assert ts.isoformat() == e.time.astimezone(CARRIER_TZ).isoformat()
        assert row["employee_id"] == e.actor
        assert row["action"] == e.action
        assert row["waybill_no"] == (e.waybill_no or None)
        assert row["field"] == (e.field or None)
        assert row["purpose"] == (e.purpose or None)
        assert row["channel"] == e.channel
        assert row["device_id"] == e.device
        assert row["ip"] == e.ip
        assert row["decision"] == e.decision
        assert row["reason"] == e.reason
    if fmt == "csv":  # the file itself writes carrier time with its offset
        text = (out / "accesses.csv").read_text(encoding="utf-8")
        assert "2016-10-03T09:00:00+08:00" in text
        assert "2016-10-03T09:00:07.000250+08:00" in text


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_the_export_is_a_valid_folder_of_the_format(
    log: AuditLog, tmp_path: Path, fmt: str
) -> None:
    written = [*varied(), entry(8, action="contain", field="", purpose="")]
    log.append(written)
    out = tmp_path / "export"
    export_accesses(log.engine, out, fmt=fmt)  # type: ignore[arg-type]
    folder = around(out, {e.actor for e in written}, fmt)
    assert validate_folder(folder) == []
    if CHECKER.is_file():  # the spec's own checker agrees, when it is beside the repository
        checked = subprocess.run(
            [sys.executable, str(CHECKER), str(folder)], capture_output=True, text=True, check=False
        )
        assert checked.returncode == 0, checked.stdout


def test_non_accesses_and_values_outside_the_spec_are_skipped_and_counted(
    log: AuditLog, tmp_path: Path
) -> None:
    written = [
        entry(0),
        entry(1, action="contain", waybill_no="", field="", purpose=""),
        entry(2, action="policy_change", waybill_no="", field="", purpose=""),
        entry(3, action="contain", waybill_no="", field="", purpose=""),
        entry(4, purpose="audit"),  # a purpose the format does not list
        entry(5, field="email"),
        entry(6, channel=""),
        entry(7, channel="kiosk"),
        entry(8, decision="maybe"),
        entry(9, actor=""),
        entry(10, action=""),
        entry(11),
    ]
    log.append(written)
    out = tmp_path / "export"
    result = export_accesses(log.engine, out)
    assert result.skipped == {
        "channel_outside_spec": 1,
        "decision_outside_spec": 1,
        "field_outside_spec": 1,
        "no_action": 1,
        "no_channel": 1,
        "no_employee_id": 1,
        "not_an_access:contain": 2,
        "not_an_access:policy_change": 1,
        "purpose_outside_spec": 1,
    }
    assert result.entries_read == 12
    assert result.accesses_written == 2
    assert result.entries_read == result.accesses_written + sum(result.skipped.values())
    assert [r["event_id"] for r in accesses(out)] == ["audit-0", "audit-11"]
    folder = around(out, {e.actor for e in written if e.actor}, "parquet")
    assert validate_folder(folder) == []


def test_missing_device_ip_and_reason_are_filled_and_counted(log: AuditLog, tmp_path: Path) -> None:
    log.append([entry(0, ip=""), entry(1, device="", ip=""), entry(2, reason=""), entry(3)])
    out = tmp_path / "export"
    result = export_accesses(log.engine, out)
    assert result.accesses_written == 4
    assert result.skipped == {}
    assert result.filled == {"device_id": 1, "ip": 2, "reason": 1}
    rows = accesses(out)
    assert [r["ip"] for r in rows][:2] == [UNKNOWN, UNKNOWN]
    assert rows[1]["device_id"] == UNKNOWN
    assert rows[2]["reason"] == UNKNOWN
    assert rows[3]["ip"] == "10.0.3.4"
    assert validate_folder(around(out, {r["employee_id"] for r in rows}, "parquet")) == []  # type: ignore[misc]


def test_until_keeps_only_entries_at_or_before_it(log: AuditLog, tmp_path: Path) -> None:
    log.append([entry(s) for s in (0, 5, 10, 11, 30)] + [entry(3)])  # times need not ascend
    until = datetime(2016, 10, 3, 9, 0, 10, tzinfo=CARRIER_TZ)  # START + 10 s, in +08:00
    result = export_accesses(log.engine, tmp_path / "export", until=until)
    rows = accesses(tmp_path / "export")
    assert [r["event_id"] for r in rows] == ["audit-0", "audit-1", "audit-2", "audit-5"]
    assert all(r["ts"] <= until for r in rows)  # type: ignore[operator]
    assert result.skipped == {"after_until": 2}
    assert result.entries_read == result.tree_size == 6
    assert result.as_dict()["until"] == "2016-10-03T09:00:10+08:00"


def test_a_non_empty_out_is_refused_and_nothing_is_written(log: AuditLog, tmp_path: Path) -> None:
    log.append(entries(5))
    out = tmp_path / "export"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n", encoding="utf-8")
    with pytest.raises(BadInput, match=r"--out .*not empty; give --force"):
        export_accesses(log.engine, out)
    with pytest.raises(BadInput, match=r"--out .*not event tables"):
        export_accesses(log.engine, out, force=True)  # --force never wipes a foreign folder
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export", "home"]  # no leftovers
    a_file = tmp_path / "file"
    a_file.write_text("", encoding="utf-8")
    with pytest.raises(BadInput, match=r"--out .*not a folder"):
        export_accesses(log.engine, a_file)


def test_force_replaces_an_earlier_export_and_an_empty_folder_is_used(
    log: AuditLog, tmp_path: Path
) -> None:
    out = tmp_path / "export"
    out.mkdir()  # an empty folder is fine without --force
    log.append(entries(3))
    assert export_accesses(log.engine, out).accesses_written == 3
    log.append(entries(4, offset=3))
    with pytest.raises(BadInput, match="not empty"):
        export_accesses(log.engine, out, fmt="csv")
    result = export_accesses(log.engine, out, fmt="csv", force=True)
    assert result.accesses_written == 7
    assert sorted(p.name for p in out.iterdir()) == ["accesses.csv"]
    assert len(accesses(out)) == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export", "home"]


def test_chunks_and_the_head_the_export_is_tied_to(log: AuditLog, tmp_path: Path) -> None:
    for batch in (1, 2, 5, 13, 30):
        log.append(entries(batch, offset=log.head().tree_size))
    whole = export_accesses(log.engine, tmp_path / "whole")
    small = export_accesses(log.engine, tmp_path / "small", chunk_rows=7)  # 51 = 7 * 7 + 2
    assert accesses(tmp_path / "whole") == accesses(tmp_path / "small")
    head = log.head()
    assert (whole.tree_size, whole.root_hash) == (small.tree_size, small.root_hash)
    assert (whole.tree_size, whole.root_hash) == (head.tree_size, head.root_hash)
    assert whole.accesses_written == 51
    # an alert's evidence (event ids) becomes inclusion proofs against the exported root
    for event in ("audit-0", "audit-17", "audit-50"):
        proof = log.prove(sequence_of(event), whole.tree_size)
        assert merkle.verify_inclusion(
            merkle.leaf_hash(proof["entry"]),  # type: ignore[arg-type]
            sequence_of(event),
            whole.tree_size,
            proof["inclusion_path"],  # type: ignore[arg-type]
            whole.root_hash,
        )


def test_an_empty_log_exports_an_empty_table(log: AuditLog, tmp_path: Path) -> None:
    result = export_accesses(log.engine, tmp_path / "export", fmt="csv")
    assert (result.entries_read, result.accesses_written, result.tree_size) == (0, 0, 0)
    assert result.root_hash == merkle.EMPTY_ROOT
    assert accesses(tmp_path / "export") == []
    assert (
        (tmp_path / "export" / "accesses.csv")
        .read_text(encoding="utf-8")
        .startswith(",".join(TABLES["accesses"].names))
    )


def test_a_deleted_entry_stops_the_export_and_nothing_is_written(
    log: AuditLog, tmp_path: Path
) -> None:
    log.append(entries(10))
    with log.engine.begin() as conn:  # someone with the database removes one entry
        conn.execute(sa.delete(audit_entries).where(audit_entries.c.seq == 4))
    with pytest.raises(LogIntegrityError, match="audit entry 4: missing"):
        export_accesses(log.engine, tmp_path / "export", chunk_rows=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]


def test_event_ids_that_are_not_exported_entries_are_bad_input() -> None:
    for bad in ("A001", "audit-", "audit-x1", "audit--1", "audit-١"):
        with pytest.raises(BadInput, match="not an exported audit entry"):
            sequence_of(bad)


# --- the command ---------------------------------------------------------------------------


def test_the_command_writes_the_export_and_ends_with_one_json_line(
    env: dict[str, str], log: AuditLog, tmp_path: Path
) -> None:
    log.append([*varied(), entry(20, action="policy_change", field="", purpose="")])
    out = tmp_path / "export"
    result = runner.invoke(
        app,
        ["audit", "export", "--out", str(out), "--until", "2016-10-03T01:00:05Z", "--json"],
        env=env,
    )
    assert result.exit_code == 0, result.stderr
    last = json.loads(result.stdout.strip().splitlines()[-1])
    head = log.head()
    assert last["ok"] is True
    assert last["out"] == str(out)
    assert last["accesses_written"] == 6
    assert last["entries_read"] == 9
    assert last["skipped"] == {"after_until": 3}  # the policy change is later than --until too
    assert last["tree_size"] == head.tree_size == 9
    assert last["root_hash"] == head.root_hash.hex()
    assert len(accesses(out)) == 6
    again = runner.invoke(app, ["audit", "export", "--out", str(out), "--json"], env=env)
    assert again.exit_code == 2
    assert "--out" in again.stderr
    assert json.loads(again.stdout.strip().splitlines()[-1])["ok"] is False
    forced = runner.invoke(
        app, ["audit", "export", "--out", str(out), "--force", "--format", "csv", "--json"], env=env
    )
    assert forced.exit_code == 0, forced.stderr
    last = json.loads(forced.stdout.strip().splitlines()[-1])
    assert last["skipped"] == {"not_an_access:policy_change": 1}
    assert sorted(p.name for p in out.iterdir()) == ["accesses.csv"]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--until", "2016-10-03T09:00:00"], "--until 2016-10-03T09:00:00: give the UTC offset"),
        (["--until", "yesterday"], "--until yesterday: not an ISO 8601 time"),
        (["--format", "xlsx"], "--format xlsx: use parquet or csv"),
    ],
)
def test_bad_options_are_bad_input_naming_the_option(
    env: dict[str, str], settings: Settings, tmp_path: Path, args: list[str], named: str
) -> None:
    out = tmp_path / "export"
    result = runner.invoke(app, ["audit", "export", "--out", str(out), *args], env=env)
    assert result.exit_code == 2
    assert named in result.stderr
    assert not out.exists()
