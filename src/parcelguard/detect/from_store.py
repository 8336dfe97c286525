"""``detect run --from-store``: the store's audit log and workflow as an events folder.

Why export first rather than read the store in place: the detectors read one format, and a
folder on disk is what an officer can keep, re-run and hand to someone else. The accesses
come from the tamper-evident audit log (``parcelguard.audit.export``: one snapshot, each
event id an entry index, so an alert's evidence turns into inclusion proofs); the workflow
comes from the store's facts, as the reveal service itself sees them.

What the store has and the format wants, table by table:

* ``employees``, ``sites``, ``assignments``, ``tickets``: copied.
* ``waybills``: the store's routing columns (never a ciphertext or a masked value).
* ``senders``: the store keeps each waybill's category, not a sender register: one row per
  (sender, category) seen, ``bulk`` false (the store does not know it; no detector reads it).
* ``scans``: the store keeps no scans, only open and closed exceptions: each becomes an
  ``exception`` scan at its site by ``(unknown)``, which is what the explanation needs
  ("an exception at the actor's site"). The "own scan nearby" relation has nothing to work on.
* investigation cases (not in the format): returned beside the folder as ``cases`` (who
  opened the case, its waybills, when), so a security officer's lookups inside a case are
  explained, as the issue asks.

Canaries (``forensics.canary``) are bait, not parcels: their waybills, exceptions,
assignments and tickets are left out, so a station canary's exception, which never closes,
does not sit in the station's workload and no canary counts as a parcel of its sender. The
accesses to them stay, since the log is the evidence: a reveal of a canary is then a reveal
of a waybill that is not a parcel, unexplained by any workflow, which is what it is. An
investigation case that names a canary keeps it, so the officer who follows a canary hit
is explained. ``canaries_skipped`` says how many were left out.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import sqlalchemy as sa

from parcelguard.core.errors import BadInput
from parcelguard.events import write_folder
from parcelguard.events.schema import SCHEMAS
from parcelguard.forensics.canary import canary_waybills
from parcelguard.storage.schema import case_waybills, investigation_cases, metadata

UNKNOWN = "(unknown)"
"""Who scanned an exception the store recorded without a person (the audit export's marker)."""
CASES_SCHEMA = pa.schema(
    [
        ("employee_id", pa.string()),
        ("waybill_no", pa.string()),
        ("opened_at", pa.timestamp("us", tz="UTC")),
        ("closed_at", pa.timestamp("us", tz="UTC")),
    ]
)


@dataclass(frozen=True, slots=True)
class StoreExport:
    folder: Path
    rows: dict[str, int]
    cases: pa.Table
    audit: dict[str, object]
    canaries_skipped: int = 0

    def as_dict(self) -> dict[str, object]:
        return {"folder": str(self.folder), "rows": self.rows, "audit": self.audit,
                "case_waybills": self.cases.num_rows,
                "canaries_skipped": self.canaries_skipped}  # fmt: skip


def export_store(db_url: str, folder: Path, until: datetime | None = None) -> StoreExport:
    """Write the store's events to ``folder`` (which must not exist or be empty)."""
    from parcelguard.audit.export import export_accesses
    from parcelguard.storage import connect_current

    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise BadInput(f"--events {folder}: give an empty or new folder for the store's export")
    engine = connect_current(db_url)
    try:
        scratch = folder.with_name(f".{folder.name}.audit")
        shutil.rmtree(scratch, ignore_errors=True)
        audit = export_accesses(engine, scratch, fmt="parquet", until=until)
        with engine.connect() as conn:
            skip = canary_waybills(conn)
            tables = _workflow(conn, skip)
            cases = _cases(conn)
        written = write_folder(folder, tables, "parquet")
        os.replace(scratch / "accesses.parquet", folder / "accesses.parquet")
        shutil.rmtree(scratch, ignore_errors=True)
    finally:
        engine.dispose()
    written["accesses"] = audit.accesses_written
    return StoreExport(folder, written, cases, audit.as_dict(), len(skip))


def _rows(conn: sa.Connection, table: sa.Table, columns: list[str]) -> list[dict[str, object]]:
    result = conn.execute(sa.select(*(table.c[c] for c in columns)))
    return [dict(zip(columns, row, strict=True)) for row in result]


def _table(name: str, rows: list[dict[str, object]]) -> pa.Table:
    schema = SCHEMAS[name]
    arrays = []
    for field in schema:
        values = [_aware(r[field.name]) for r in rows]
        kind = pa.timestamp("us", tz="UTC") if pa.types.is_timestamp(field.type) else field.type
        arrays.append(pa.array(values, kind))
    return pa.Table.from_arrays(arrays, names=schema.names)


def _aware(value: object) -> object:
    """Stored times come back aware on PostgreSQL and may come back naive (UTC) on SQLite."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _workflow(conn: sa.Connection, canaries: set[str]) -> dict[str, pa.Table]:
    """The workflow tables, without the parcels in ``canaries`` (bait, not parcels)."""
    t = {table.name: table for table in metadata.tables.values()}

    def parcels(table: str, columns: list[str]) -> list[dict[str, object]]:
        return [r for r in _rows(conn, t[table], columns) if r["waybill_no"] not in canaries]

    employees = _rows(
        conn, t["employees"], ["employee_id", "role", "site_id", "hired_on", "left_on"]
    )
    sites = _rows(conn, t["sites"], ["site_id", "kind", "adcode"])
    waybills = parcels("waybills", ["waybill_no", "sender_id", "category", "created_at",
                                    "origin_site_id", "dest_site_id", "dest_adcode"])  # fmt: skip
    senders = sorted({(str(w["sender_id"]), str(w["category"])) for w in waybills})
    assignments = parcels("assignments", ["waybill_no", "courier_id", "assigned_at", "until"])
    tickets = parcels("tickets", ["ticket_id", "waybill_no", "agent_id", "opened_at",
                                  "closed_at", "kind"])  # fmt: skip
    exceptions = parcels("parcel_exceptions", ["waybill_no", "site_id", "opened_at"])
    scans = [{"ts": e["opened_at"], "waybill_no": e["waybill_no"], "site_id": e["site_id"],
              "employee_id": UNKNOWN, "kind": "exception"} for e in exceptions]  # fmt: skip
    return {
        "employees": _table("employees", employees),
        "sites": _table("sites", sites),
        "senders": _table(
            "senders", [{"sender_id": a, "category": b, "bulk": False} for a, b in senders]
        ),
        "waybills": _table("waybills", waybills),
        "scans": _table("scans", scans),
        "assignments": _table("assignments", assignments),
        "tickets": _table("tickets", tickets),
    }


def _cases(conn: sa.Connection) -> pa.Table:
    cases, members = investigation_cases, case_waybills
    query = sa.select(
        cases.c.opened_by, members.c.waybill_no, cases.c.opened_at, cases.c.closed_at
    ).join(members, members.c.case_id == cases.c.case_id)
    rows = [tuple(_aware(v) for v in row) for row in conn.execute(query)]
    columns: list[tuple[object, ...]] = list(zip(*rows, strict=True)) if rows else [()] * 4
    return pa.Table.from_arrays(
        [pa.array(list(c), f.type) for c, f in zip(columns, CASES_SCHEMA, strict=True)],
        schema=CASES_SCHEMA,
    )


__all__ = ["CASES_SCHEMA", "UNKNOWN", "StoreExport", "export_store"]
