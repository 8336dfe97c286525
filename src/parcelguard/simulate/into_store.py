"""``simulate --into-store``: the world's waybills, with synthetic recipients, into the vault.

Recipients are made up from the seed: names by surname frequency, phones from real mobile
segments of the destination's province, street addresses in the destination district with
building, unit and room, so masking and blind indexes have realistic input. The vault's clock
is set to the end of the simulated period so that retention counts from simulated time.
"""

from __future__ import annotations

from datetime import UTC, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from parcelguard.audit.entry import AuditEntry
from parcelguard.config import Settings
from parcelguard.core.waybill import NewWaybill
from parcelguard.simulate.recipients import ESTATES, ROADS
from parcelguard.simulate.reference import districts, sample_names, sample_phones
from parcelguard.vault import PutResult, Vault
from parcelguard.vault.keys import KeyProvider


def recipients_for(tables: dict[str, pa.Table], seed: int) -> list[NewWaybill]:
    rng = np.random.default_rng([seed, 7_777])
    waybills = tables["waybills"]
    senders = tables["senders"]
    category = dict(
        zip(senders["sender_id"].to_pylist(), senders["category"].to_pylist(), strict=True)
    )
    d = districts()
    position = {code: i for i, code in enumerate(d.adcode.tolist())}
    where = np.array([position[c] for c in waybills["dest_adcode"].to_pylist()], dtype=np.int64)
    n = waybills.num_rows
    names = sample_names(rng, n)
    phones = sample_phones(rng, d.phone_province[where])
    road = np.array(ROADS)[rng.integers(0, len(ROADS), n)]
    estate = np.array(ESTATES)[rng.integers(0, len(ESTATES), n)]
    number = rng.integers(1, 300, n).astype(str)
    unit = np.char.add(
        np.char.add(rng.integers(1, 30, n).astype(str), "栋"),
        np.char.add(
            np.char.add(rng.integers(1, 6, n).astype(str), "单元"),
            rng.integers(101, 3304, n).astype(str),
        ),
    )
    city = np.where(d.city[where] == d.province[where], "", d.city[where])
    addresses = [
        f"{p}{c}{dn}{r}路{no}号{e}小区{u}室"
        for p, c, dn, r, no, e, u in zip(
            d.province[where], city, d.name[where], road, number, estate, unit, strict=True
        )
    ]
    created = waybills["created_at"].to_pylist()
    return [
        NewWaybill(
            waybill_no=no,
            sender_id=sender,
            category=category[sender],
            created_at=moment.astimezone(UTC),
            origin_site_id=origin,
            dest_site_id=dest,
            dest_adcode=adcode,
            recipient_name=str(names[i]),
            recipient_phone=str(phones[i]),
            recipient_address=addresses[i],
        )
        for i, (no, sender, moment, origin, dest, adcode) in enumerate(
            zip(
                waybills["waybill_no"].to_pylist(),
                waybills["sender_id"].to_pylist(),
                created,
                waybills["origin_site_id"].to_pylist(),
                waybills["dest_site_id"].to_pylist(),
                waybills["dest_adcode"].to_pylist(),
                strict=True,
            )
        )
    ]


def put_world(
    tables: dict[str, pa.Table], seed: int, settings: Settings, provider: KeyProvider
) -> PutResult:
    last = pc.max(tables["waybills"]["created_at"]).as_py().astimezone(UTC)
    now = last + timedelta(hours=1)
    vault = Vault.open(
        settings.db_url,
        provider,
        retention_days=settings.retention_days,
        nonce_budget=settings.nonce_budget,
        clock=lambda: now,
    )
    with vault:
        return vault.put(recipients_for(tables, seed))


def audit_entries(accesses: pa.Table) -> list[AuditEntry]:
    """The simulator's access rows as audit entries, in the rows' order, to append to a log.

    Why here: the demo, detection's store export and leak forensics all need a world whose
    accesses sit in the tamper-evident log, as the reveal service would have written them.
    The row's ``event_id`` becomes the entry's ``request_id`` so that an entry can be traced
    back to the simulated event. The simulator decides in the legacy regime and names no
    policy, so ``policy_id`` stays empty (forensics then treats an allowed phone reveal as
    plaintext: the form was not recorded). Empty cells become empty fields.
    """
    return [
        AuditEntry.at(
            0,
            row["ts"],
            actor=row["employee_id"],
            action=row["action"],
            waybill_no=row["waybill_no"] or "",
            field=row["field"] or "",
            purpose=row["purpose"] or "",
            decision=row["decision"],
            reason=row["reason"],
            request_id=row["event_id"],
            channel=row["channel"],
            device=row["device_id"] or "",
            ip=row["ip"] or "",
        )
        for row in accesses.to_pylist()
    ]


__all__ = ["audit_entries", "put_world", "recipients_for"]
