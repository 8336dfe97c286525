"""What a label shows, and where it comes from: the masks the vault computed at put time.

A label is printed from the ``waybills`` row alone (masked name, phone and address, sites,
category), read-only and without any key: printing must never be a way to decrypt. A
shredded waybill has lost its masks with its ciphertext, and gets no label.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from parcelguard.core.errors import BadInput
from parcelguard.storage.schema import canaries, waybills

DEFAULT_CARRIER = "ParcelGuard 快递"


@dataclass(frozen=True, slots=True)
class MaskedWaybill:
    """One waybill as a label may show it: GB/T 41833 masks, never plaintext."""

    waybill_no: str
    category: str
    origin_site_id: str
    dest_site_id: str
    created_at: datetime
    name_masked: str
    phone_masked: str
    address_masked: str


@dataclass(frozen=True, slots=True)
class LabelContent:
    """Everything printed on one label. Every personal field is already masked.

    The token is left out of ``repr``: it is no personal data, but it is a bearer reference
    and a log line is the wrong place to copy one.
    """

    waybill_no: str
    category: str
    origin_site_id: str
    dest_site_id: str
    name_masked: str
    phone_masked: str
    address_masked: str
    issued_at: datetime
    expires_at: datetime
    token: str = field(repr=False)
    carrier: str = DEFAULT_CARRIER

    @classmethod
    def of(
        cls,
        masked: MaskedWaybill,
        token: str,
        issued_at: datetime,
        expires_at: datetime,
        carrier: str = DEFAULT_CARRIER,
    ) -> LabelContent:
        return cls(
            waybill_no=masked.waybill_no,
            category=masked.category,
            origin_site_id=masked.origin_site_id,
            dest_site_id=masked.dest_site_id,
            name_masked=masked.name_masked,
            phone_masked=masked.phone_masked,
            address_masked=masked.address_masked,
            issued_at=issued_at,
            expires_at=expires_at,
            token=token,
            carrier=carrier,
        )


def read_masked(engine: Engine, waybill_no: str) -> MaskedWaybill:
    """The masked row of ``waybill_no``; :class:`BadInput` if unknown, shredded or a canary.

    A canary (``parcelguard leak canary plant``) is bait that must never reach the physical
    flow: a printed label would put it on a parcel, in a courier's hands and in front of
    whoever scans it, and its delivery attempts would mark it as different from real bait.
    """
    with engine.connect() as conn:
        bait = conn.execute(
            sa.select(canaries.c.waybill_no).where(canaries.c.waybill_no == waybill_no)
        ).first()
        row = conn.execute(
            sa.select(
                waybills.c.waybill_no,
                waybills.c.category,
                waybills.c.origin_site_id,
                waybills.c.dest_site_id,
                waybills.c.created_at,
                waybills.c.name_masked,
                waybills.c.phone_masked,
                waybills.c.address_masked,
                waybills.c.shredded_at,
            ).where(waybills.c.waybill_no == waybill_no)
        ).first()
    if row is None:
        raise BadInput(f"waybill {waybill_no}: not in the vault", code="unknown_waybill")
    if bait is not None:
        raise BadInput(
            f"waybill {waybill_no}: is a canary record (planted bait); canaries are never "
            "labelled or delivered",
            code="canary_waybill",
        )
    if row.shredded_at is not None or None in (
        row.name_masked,
        row.phone_masked,
        row.address_masked,
    ):
        when = f" on {row.shredded_at.date().isoformat()}" if row.shredded_at else ""
        raise BadInput(
            f"waybill {waybill_no}: was shredded{when}; its recipient data is gone, "
            "so there is nothing to print",
            code="shredded_waybill",
        )
    return MaskedWaybill(
        waybill_no=row.waybill_no,
        category=row.category,
        origin_site_id=row.origin_site_id,
        dest_site_id=row.dest_site_id,
        created_at=row.created_at,
        name_masked=row.name_masked,
        phone_masked=row.phone_masked,
        address_masked=row.address_masked,
    )
