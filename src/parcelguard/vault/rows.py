"""From a plaintext waybill to the row stored at rest: pure, with the cryptography injected.

Keeping this free of I/O and of key handling lets the benchmark run the very same code with a
plaintext sealer as its baseline, and lets tests check the row shape without a database.
Rows are tuples in :data:`ROW_COLUMNS` order because the put path inserts hundreds of
thousands a second and a dict per row is measurable there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from parcelguard.core.masking import mask_address, mask_name, mask_phone
from parcelguard.core.names import normalise_name
from parcelguard.core.waybill import NewWaybill
from parcelguard.vault.fields import Field

# (waybill_no, field, plaintext) -> stored bytes; a sealer is bound to one data key.
Sealer = Callable[[str, Field, str], bytes]
PhoneIndex = Callable[[str], bytes]
NamePhoneIndex = Callable[[str, str], bytes]
# The storage layer's conversion of an aware datetime to what its driver stores.
Stamp = Callable[[datetime], object]

ROW_COLUMNS: tuple[str, ...] = (
    "waybill_no",
    "sender_id",
    "category",
    "created_at",
    "origin_site_id",
    "dest_site_id",
    "dest_adcode",
    "key_id",
    "name_ct",
    "phone_ct",
    "address_ct",
    "phone_bidx",
    "name_phone_bidx",
    "name_masked",
    "phone_masked",
    "address_masked",
)
Row = tuple[object, ...]


def build_rows(
    batch: Sequence[NewWaybill],
    key_id: str,
    seal: Sealer,
    phone_index: PhoneIndex,
    name_phone_index: NamePhoneIndex,
    stamp: Stamp,
) -> list[Row]:
    name, phone, address = Field.NAME, Field.PHONE, Field.ADDRESS
    return [
        (
            w.waybill_no,
            w.sender_id,
            w.category,
            stamp(w.created_at),
            w.origin_site_id,
            w.dest_site_id,
            w.dest_adcode,
            key_id,
            seal(w.waybill_no, name, w.recipient_name),
            seal(w.waybill_no, phone, w.recipient_phone),
            seal(w.waybill_no, address, w.recipient_address),
            phone_index(w.recipient_phone),
            name_phone_index(normalise_name(w.recipient_name), w.recipient_phone),
            mask_name(w.recipient_name),
            mask_phone(w.recipient_phone),
            mask_address(w.recipient_address),
        )
        for w in batch
    ]
