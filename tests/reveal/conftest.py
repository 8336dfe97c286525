"""A small workflow world in a real store: who works where, what each parcel's workflow says."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from parcelguard.admin import open_audit_log, open_vault
from parcelguard.admin.initialise import key_provider
from parcelguard.audit.log import AuditLog
from parcelguard.config import Settings
from parcelguard.core.waybill import NewWaybill
from parcelguard.reveal.engine import PolicyEngine
from parcelguard.reveal.service import RevealService
from parcelguard.storage.schema import (
    assignments,
    case_waybills,
    devices,
    employees,
    investigation_cases,
    parcel_exceptions,
    parcel_status,
    sites,
    tickets,
)
from parcelguard.vnum import VirtualNumbers
from parcelguard.vnum.numbers import pool_numbers
from tests.conftest import recent_waybills

NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class World:
    settings: Settings
    engine: sa.Engine
    log: AuditLog
    waybills: list[NewWaybill]
    numbers: VirtualNumbers

    def service(self, **overrides: object) -> RevealService:
        arguments: dict[str, object] = {
            "engine": self.engine,
            "policies": PolicyEngine.load(self.settings.home / "policies"),
            "keys": key_provider(self.settings),
            "audit_append": self.log.append,
            "numbers": self.numbers,
            "waybill_pattern": self.settings.waybill_pattern,
            "clock": lambda: NOW,
            "same_store": True,
        }
        arguments.update(overrides)
        return RevealService(**arguments)  # type: ignore[arg-type]


def _rows(conn: sa.Connection, table: sa.Table, rows: list[dict[str, object]]) -> None:
    conn.execute(table.insert(), rows)


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    vault = open_vault(settings)
    parcels = recent_waybills(6, seed=11)
    vault.put(parcels)
    engine = vault.engine
    wb = [p.waybill_no for p in parcels]
    hired = date(2015, 1, 1)
    with engine.begin() as conn:
        _rows(
            conn,
            sites,
            [
                {"site_id": "ST1", "kind": "station", "adcode": "421002"},
                {"site_id": "ST2", "kind": "station", "adcode": "421003"},
                {"site_id": "WH1", "kind": "warehouse", "adcode": "420100"},
            ],
        )
        people = [
            ("C1", "courier", "ST1", None),
            ("C2", "courier", "ST1", None),
            ("K1", "station_clerk", "ST1", None),
            ("A1", "cs_agent", "ST2", None),
            ("W1", "warehouse_clerk", "WH1", None),
            ("O1", "security_officer", "ST2", None),
            ("O2", "security_officer", "ST2", None),
            ("X1", "courier", "ST1", (NOW - timedelta(days=30)).date()),
            ("Z1", "janitor", "ST1", None),
        ]
        _rows(
            conn,
            employees,
            [
                {"employee_id": e, "role": r, "site_id": s, "hired_on": hired, "left_on": left}
                for e, r, s, left in people
            ],
        )
        kinds = {"C1": "handheld", "C2": "handheld", "X1": "handheld"}
        _rows(
            conn,
            devices,
            [
                {
                    "device_id": f"D-{e}",
                    "employee_id": e,
                    "kind": kinds.get(e, "workstation"),
                    "registered_at": NOW - timedelta(days=100),
                    "revoked_at": None,
                }
                for e, *_ in people
            ],
        )
        _rows(
            conn,
            parcel_status,
            [
                {
                    "waybill_no": wb[0],
                    "current_site_id": "ST1",
                    "last_scan_at": NOW - timedelta(hours=1),
                    "dispatched_at": NOW - timedelta(hours=1),
                    "delivered_at": None,
                },
                {
                    "waybill_no": wb[1],
                    "current_site_id": "ST1",
                    "last_scan_at": NOW,
                    "dispatched_at": None,
                    "delivered_at": None,
                },
                {
                    "waybill_no": wb[3],
                    "current_site_id": "WH1",
                    "last_scan_at": NOW,
                    "dispatched_at": None,
                    "delivered_at": None,
                },
            ],
        )
        _rows(
            conn,
            assignments,
            [
                {
                    "waybill_no": wb[0],
                    "courier_id": courier,
                    "assigned_at": NOW - timedelta(hours=2),
                    "until": NOW + timedelta(hours=10),
                }
                for courier in ("C1", "X1")
            ],
        )
        _rows(
            conn,
            parcel_exceptions,
            [
                {
                    "waybill_no": wb[1],
                    "site_id": "ST1",
                    "opened_at": NOW - timedelta(hours=3),
                    "closed_at": None,
                }
            ],
        )
        _rows(
            conn,
            tickets,
            [
                {
                    "ticket_id": "T1",
                    "waybill_no": wb[2],
                    "agent_id": "A1",
                    "opened_at": NOW - timedelta(hours=5),
                    "kind": "delay",
                    "closed_at": None,
                }
            ],
        )
        _rows(
            conn,
            investigation_cases,
            [
                {
                    "case_id": "CASE-1",
                    "opened_by": "O1",
                    "approved_by": "O2",
                    "justification": "fraud call reported by the recipient on 2016-10-05",
                    "opened_at": NOW - timedelta(days=1),
                    "closed_at": None,
                },
                {
                    "case_id": "CASE-2",
                    "opened_by": "O1",
                    "approved_by": None,
                    "justification": "fraud call reported by the recipient on 2016-10-05",
                    "opened_at": NOW - timedelta(days=1),
                    "closed_at": None,
                },
            ],
        )
        _rows(
            conn,
            case_waybills,
            [
                {"case_id": "CASE-1", "waybill_no": wb[4]},
                {"case_id": "CASE-2", "waybill_no": wb[4]},
            ],
        )
    numbers = VirtualNumbers(engine)
    numbers.provision(pool_numbers("1709", 40, seed=5))
    yield World(settings, engine, open_audit_log(settings), parcels, numbers)
    vault.close()
