"""From a plaintext waybill to the row stored at rest: pure, with the cryptography injected.

Keeping this free of I/O and of key handling lets the benchmark run the very same code with a
plaintext sealer as its baseline, and lets tests check the row shape without a database.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from parcelguard.core.masking import mask_address, mask_name, mask_phone
from parcelguard.core.names import normalise_name
from parcelguard.core.waybill import NewWaybill
from parcelguard.vault.fields import Field

# (waybill_no, field, key_id, plaintext) -> stored bytes
Sealer = Callable[[str, Field, str, str], bytes]
PhoneIndex = Callable[[str], bytes]
NamePhoneIndex = Callable[[str, str], bytes]

Row = dict[str, object]


def build_rows(
    batch: Sequence[NewWaybill],
    key_id: str,
    seal: Sealer,
    phone_index: PhoneIndex,
    name_phone_index: NamePhoneIndex,
) -> list[Row]:
    rows: list[Row] = []
    append = rows.append
    name, phone, address = Field.NAME, Field.PHONE, Field.ADDRESS
    for w in batch:
        no = w.waybill_no
        append(
            {
                "waybill_no": no,
                "sender_id": w.sender_id,
                "category": w.category,
                "created_at": w.created_at,
                "origin_site_id": w.origin_site_id,
                "dest_site_id": w.dest_site_id,
                "dest_adcode": w.dest_adcode,
                "key_id": key_id,
                "name_ct": seal(no, name, key_id, w.recipient_name),
                "phone_ct": seal(no, phone, key_id, w.recipient_phone),
                "address_ct": seal(no, address, key_id, w.recipient_address),
                "phone_bidx": phone_index(w.recipient_phone),
                "name_phone_bidx": name_phone_index(
                    normalise_name(w.recipient_name), w.recipient_phone
                ),
                "name_masked": mask_name(w.recipient_name),
                "phone_masked": mask_phone(w.recipient_phone),
                "address_masked": mask_address(w.recipient_address),
                "shredded_at": None,
            }
        )
    return rows
