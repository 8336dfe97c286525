"""A small simulated carrier in the store, and leaked files made from it, for match and attribute.

The world is the tiny detection world with only the Jingzhou case injected: its workflow
facts, its waybills in the vault (synthetic recipients), and every simulated access appended
to the audit log as the reveal service would have written it. A "leaked file" is a persons
table built as ingest builds one: blind indexes under the vault's own key, nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import sqlalchemy as sa

from parcelguard.admin import key_provider, open_audit_log, open_vault
from parcelguard.config import Settings
from parcelguard.core.names import normalise_name
from parcelguard.core.phone import normalise_cn_mobile
from parcelguard.core.waybill import NewWaybill
from parcelguard.forensics.attribute import CaseFindings, match_case
from parcelguard.forensics.case import PERSONS_SCHEMA, CaseDir
from parcelguard.simulate.into_store import audit_entries, put_world, recipients_for
from parcelguard.simulate.reference import sample_phones
from parcelguard.simulate.run import simulate
from parcelguard.simulate.workflow import put_workflow
from parcelguard.simulate.world import WorldConfig
from parcelguard.storage import connect_current
from parcelguard.vault.blind_index import BlindIndexer

WORLD = WorldConfig(seed=5, days=2, employees=200, waybills_per_day=600)


@dataclass
class LeakWorld:
    settings: Settings
    engine: sa.Engine
    tables: dict[str, pa.Table]
    recipients: dict[str, NewWaybill]
    indexer: BlindIndexer
    clerk: str
    courier: str
    accesses: list[dict[str, object]]
    sequence: dict[str, int]  # event id → audit entry index

    def phone_reveals(self, employee: str | None = None) -> list[dict[str, object]]:
        """Allowed reveals (and exports) of a phone, as the simulator decided them."""
        return [
            row
            for row in self.accesses
            if row["action"] in ("reveal", "export")
            and row["decision"] == "allow"
            and row["field"] == "phone"
            and (employee is None or row["employee_id"] == employee)
        ]

    def revealed(self, employee: str, before: datetime) -> set[str]:
        return {
            str(row["waybill_no"])
            for row in self.phone_reveals(employee)
            if row["ts"] < before  # type: ignore[operator]
        }

    def revealers(self, waybill_no: str, before: datetime) -> set[str]:
        return {
            str(row["employee_id"])
            for row in self.phone_reveals()
            if row["waybill_no"] == waybill_no and row["ts"] < before  # type: ignore[operator]
        }


def build(settings: Settings) -> LeakWorld:
    tables = simulate(WORLD, ["jingzhou-2016"])
    engine = connect_current(settings.db_url)
    put_workflow(engine, tables)
    put_world(tables, WORLD.seed, settings, key_provider(settings))
    log = open_audit_log(settings)
    try:
        first = log.append(audit_entries(tables["accesses"]))[0]
    finally:
        log.engine.dispose()
    roles = dict(
        zip(
            tables["employees"]["employee_id"].to_pylist(),
            tables["employees"]["role"].to_pylist(),
            strict=True,
        )
    )
    case = [row["employee_id"] for row in tables["labels"].to_pylist()]
    clerk = next(e for e in case if roles[e] == "warehouse_clerk")
    courier = next(e for e in case if roles[e] == "courier")
    vault = open_vault(settings)
    indexer = vault.blind_indexer
    vault.close()
    accesses = tables["accesses"].to_pylist()
    return LeakWorld(
        settings=settings,
        engine=engine,
        tables=tables,
        recipients={w.waybill_no: w for w in recipients_for(tables, WORLD.seed)},
        indexer=indexer,
        clerk=clerk,
        courier=courier,
        accesses=accesses,
        sequence={str(row["event_id"]): first + i for i, row in enumerate(accesses)},
    )


def persons(
    world: LeakWorld,
    waybills: Iterable[str],
    *,
    strangers: int = 0,
    renamed: Iterable[str] = (),
    virtual_numbers: Mapping[str, str] | None = None,
    with_waybill_no: Iterable[str] = (),
    without_phone: Iterable[str] = (),
) -> pa.Table:
    """A persons table for the recipients of ``waybills`` (one person each), plus extras.

    ``strangers``: people who are not our recipients (other carriers' customers);
    ``renamed``: waybills whose person carries a different name (a phone-only match);
    ``virtual_numbers``: people known only by a virtual number (number → anything);
    ``with_waybill_no``: waybills whose number the file gives beside the person;
    ``without_phone``: waybills whose person the file gives with no phone.
    """
    renamed, named, phoneless = set(renamed), set(with_waybill_no), set(without_phone)
    rows: list[dict[str, object]] = []
    for waybill_no in waybills:
        w = world.recipients[waybill_no]
        phone = normalise_cn_mobile(w.recipient_phone)
        name = normalise_name(w.recipient_name)
        rows.append(
            {
                "phone_bidx": None if waybill_no in phoneless else world.indexer.phone(phone),
                "name_phone_bidx": None
                if waybill_no in phoneless
                else world.indexer.name_phone("欧阳某某" if waybill_no in renamed else name, phone),
                "waybill_no": waybill_no if waybill_no in named else None,
            }
        )
    rng = np.random.default_rng(99)
    for phone in sample_phones(rng, np.array(["湖北"] * strangers)):
        rows.append({"phone_bidx": world.indexer.phone(normalise_cn_mobile(str(phone)))})
    for number in virtual_numbers or {}:
        rows.append({"virtual_number": number})
    return table(rows)


def table(rows: list[dict[str, object]]) -> pa.Table:
    full = [
        {
            "person_id": i,
            "phone_bidx": row.get("phone_bidx"),
            "name_phone_bidx": row.get("name_phone_bidx"),
            "id_digest": None,
            "phone_masked": None,
            "name_masked": None,
            "adcode": None,
            "virtual_number": row.get("virtual_number"),
            "waybill_no": row.get("waybill_no"),
            "rows": 1,
            "first_row": i + 2,
        }
        for i, row in enumerate(rows)
    ]
    return pa.Table.from_pylist(full, schema=PERSONS_SCHEMA)


def unrevealed(world: LeakWorld, count: int, before: datetime) -> list[str]:
    """Our waybills nobody revealed the phone of before ``before``, created before it."""
    seen = {str(row["waybill_no"]) for row in world.phone_reveals() if row["ts"] < before}  # type: ignore[operator]
    return [
        no for no, w in sorted(world.recipients.items()) if no not in seen and w.created_at < before
    ][:count]


def after_last(rows: Iterable[dict[str, object]], hours: float = 1) -> datetime:
    return max(row["ts"] for row in rows) + timedelta(hours=hours)  # type: ignore[type-var, operator, no-any-return]


def run(
    world: LeakWorld, table: pa.Table, first_seen: datetime, name: str = "leak"
) -> CaseFindings:
    """Write the case as ingest would (case.json with first_seen, persons.parquet), match it."""
    case = CaseDir.under(world.settings.home, name)
    case.write_json(case.case_file, {"first_seen": first_seen.isoformat()})
    case.write_persons(table)
    return match_case(world.settings, case)
