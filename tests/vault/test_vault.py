import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from parcelguard.admin import open_vault
from parcelguard.config import Settings
from parcelguard.core.clock import carrier_day, today
from parcelguard.core.errors import BadInput, BadRecords
from parcelguard.storage.schema import data_keys, waybills
from parcelguard.vault import Vault, _decrypt
from parcelguard.vault.fields import Field
from parcelguard.vault.store import Vault as VaultClass
from tests.conftest import recent_waybills


def read_field(vault: Vault, waybill_no: str, field: Field, *, as_row: str | None = None) -> str:
    """Open one field the way the reveal service will (tests may import _decrypt)."""
    column = {Field.NAME: "name_ct", Field.PHONE: "phone_ct", Field.ADDRESS: "address_ct"}[field]
    with vault.engine.connect() as conn:
        row = conn.execute(
            sa.select(waybills.c.key_id, waybills.c[column], data_keys.c.wrapped_key)
            .join(data_keys, data_keys.c.key_id == waybills.c.key_id)
            .where(waybills.c.waybill_no == waybill_no)
        ).one()
    aead = _decrypt.unwrap_data_key(vault.provider, row.key_id, row.wrapped_key)
    return _decrypt.open_field(aead, as_row or waybill_no, field, row.key_id, row[1])


def test_put_stores_every_field_encrypted_and_readable_through_the_door(vault: Vault) -> None:
    batch = recent_waybills(50)
    result = vault.put(batch)
    assert result.waybills == 50
    for w in batch[:5]:
        assert read_field(vault, w.waybill_no, Field.NAME) == w.recipient_name
        assert read_field(vault, w.waybill_no, Field.PHONE) == w.recipient_phone
        assert read_field(vault, w.waybill_no, Field.ADDRESS) == w.recipient_address
    stats = vault.stats()
    assert stats["waybills"] == 50
    assert stats["shredded_waybills"] == 0


def test_a_ciphertext_moved_to_another_row_or_field_does_not_open(vault: Vault) -> None:
    a, b = recent_waybills(2)
    vault.put([a, b])
    with pytest.raises(_decrypt.FieldUnreadable, match="does not authenticate"):
        read_field(vault, a.waybill_no, Field.PHONE, as_row=b.waybill_no)
    with vault.engine.begin() as conn:  # copy a's phone ciphertext into its name column
        phone_ct = conn.execute(
            sa.select(waybills.c.phone_ct).where(waybills.c.waybill_no == a.waybill_no)
        ).scalar_one()
        conn.execute(
            waybills.update().where(waybills.c.waybill_no == a.waybill_no).values(name_ct=phone_ct)
        )
    with pytest.raises(_decrypt.FieldUnreadable, match="does not authenticate"):
        read_field(vault, a.waybill_no, Field.NAME)


def test_the_masked_forms_are_stored_in_clear_for_labels(vault: Vault) -> None:
    (w,) = recent_waybills(1)
    vault.put([w])
    row = vault.at_rest(w.waybill_no)
    assert row is not None
    assert row["phone_masked"] == w.recipient_phone[:3] + "******" + w.recipient_phone[-2:]
    assert str(row["name_masked"]).startswith(w.recipient_name[0])
    assert str(row["address_masked"]).endswith("****")


def test_blind_index_matches_a_phone_however_it_is_written(vault: Vault) -> None:
    batch = recent_waybills(20)
    vault.put(batch)
    phone = batch[3].recipient_phone
    expected = sorted(w.waybill_no for w in batch if w.recipient_phone == phone)
    written = f"+86 {phone[:3]}-{phone[3:7]}-{phone[7:]}"
    assert sorted(vault.find_by_phone(written)) == expected
    assert vault.find_by_phone("13000000000") == []
    with pytest.raises(BadInput, match="not a Chinese mobile number"):
        vault.find_by_phone("12345")


def test_keys_rotate_within_a_day_before_the_nonce_budget_runs_out(settings: Settings) -> None:
    vault = VaultClass.open(
        settings.db_url,
        open_vault(settings).provider,
        retention_days=90,
        nonce_budget=31,  # ten waybills (3 encryptions each) per key, one nonce left over
    )
    day_start = datetime.now(UTC) - timedelta(hours=1)
    batch = [replace(w, created_at=day_start) for w in recent_waybills(25)]
    result = vault.put(batch)
    assert result.data_keys_used == 3
    with vault.engine.connect() as conn:
        used = sorted(row.encryptions for row in conn.execute(sa.select(data_keys.c.encryptions)))
    assert used == [15, 30, 30]
    assert all(read_field(vault, w.waybill_no, Field.PHONE) == w.recipient_phone for w in batch)
    vault.close()


def test_shredding_makes_old_days_unrecoverable(vault: Vault) -> None:
    batch = recent_waybills(40)
    vault.put(batch)
    cutoff = today()
    old = [w for w in batch if carrier_day(w.created_at) < cutoff]
    assert old, "the batch spans more than one day"
    result = vault.shred(cutoff)
    assert result.waybills_shredded == len(old)
    assert result.keys_destroyed >= 1
    stats = vault.stats()
    assert stats["shredded_waybills"] == len(old)
    assert stats["destroyed_data_keys"] == result.keys_destroyed
    with pytest.raises(_decrypt.FieldUnreadable):
        read_field(vault, old[0].waybill_no, Field.PHONE)
    assert vault.find_by_phone(old[0].recipient_phone) == [
        w.waybill_no for w in batch if w.recipient_phone == old[0].recipient_phone and w not in old
    ]
    young = [w for w in batch if w not in old]
    assert read_field(vault, young[0].waybill_no, Field.NAME) == young[0].recipient_name
    again = vault.shred(cutoff)
    assert again.keys_destroyed == 0


def test_a_shredded_day_takes_no_new_waybills(vault: Vault) -> None:
    batch = recent_waybills(40)
    vault.put(batch[:20])
    vault.shred(today())
    late = [w for w in batch[20:] if carrier_day(w.created_at) < today()]
    with pytest.raises(BadRecords, match="a day already shredded"):
        vault.put(late)


def test_shredding_the_future_is_refused(vault: Vault) -> None:
    with pytest.raises(BadInput, match="is after today"):
        vault.shred(today() + timedelta(days=1))


def test_waybills_older_than_retention_are_refused(vault: Vault) -> None:
    (w,) = recent_waybills(1)
    old = replace(w, created_at=datetime.now(UTC) - timedelta(days=120))
    with pytest.raises(BadRecords, match="older than the retention period"):
        vault.put([old])


def test_a_bad_batch_writes_nothing(vault: Vault) -> None:
    batch = recent_waybills(10)
    vault.put(batch[:1])
    with pytest.raises(BadRecords, match="already in the vault") as info:
        vault.put(batch)  # nine new, one duplicate
    assert info.value.problems[0].where == "waybill #1"
    assert vault.stats()["waybills"] == 1
    with vault.engine.connect() as conn:
        reserved = conn.execute(sa.select(sa.func.sum(data_keys.c.encryptions))).scalar_one()
    assert reserved == 3  # the failed batch reserved no nonces either


def test_duplicates_within_a_batch_name_both_places(vault: Vault) -> None:
    (w,) = recent_waybills(1)
    with pytest.raises(BadRecords, match="repeats the one at waybill #1"):
        vault.put([w, w])
    assert vault.stats()["waybills"] == 0


def test_an_empty_batch_is_refused(vault: Vault) -> None:
    with pytest.raises(BadInput, match="no waybills"):
        vault.put([])


def test_concurrent_writers_both_land(settings: Settings) -> None:
    batches = [recent_waybills(300, seed=s, first_serial=s * 1000) for s in (1, 2, 3)]
    errors: list[BaseException] = []

    def write(batch: list) -> None:
        vault = open_vault(settings)
        try:
            vault.put(batch)
        except BaseException as exc:
            errors.append(exc)
        finally:
            vault.close()

    threads = [threading.Thread(target=write, args=(b,)) for b in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    vault = open_vault(settings)
    assert vault.stats()["waybills"] == 900
    vault.close()


def test_concurrent_writers_of_the_same_waybills_store_them_once(settings: Settings) -> None:
    batch = recent_waybills(200)
    outcomes: list[str] = []

    def write() -> None:
        vault = open_vault(settings)
        try:
            vault.put(batch)
            outcomes.append("ok")
        except BadInput:
            outcomes.append("refused")
        finally:
            vault.close()

    threads = [threading.Thread(target=write) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok", "refused"]
    vault = open_vault(settings)
    assert vault.stats()["waybills"] == 200
    vault.close()


ENCODINGS = ("utf-8", "utf-16-le", "utf-16-be", "gb18030")


def plaintext_needles(batch: list) -> list[bytes]:
    needles = []
    for w in batch:
        for value in (w.recipient_name, w.recipient_phone, w.recipient_address):
            for encoding in ENCODINGS:
                needles.append(value.encode(encoding))
        needles.append(w.recipient_phone.encode().hex().encode())
    return needles


def test_nothing_at_rest_holds_plaintext(settings: Settings, vault: Vault, tmp_path: Path) -> None:
    batch = recent_waybills(300)
    vault.put(batch)
    vault.shred(today())
    if vault.engine.dialect.name == "sqlite":
        blob = b"".join(p.read_bytes() for p in settings.home.rglob("*") if p.is_file())
    else:
        with vault.engine.connect() as conn:
            blob = b"".join(
                str(row[0]).encode()
                for table in ("waybills", "data_keys", "index_keys", "shred_events")
                for row in conn.exec_driver_sql(f"SELECT t::text FROM {table} t")
            )
    assert len(blob) > 10_000
    leaked = [n for n in plaintext_needles(batch) if n in blob]
    # names of one or two characters can occur by chance inside ciphertext only at negligible odds
    assert leaked == []


def test_destroyed_key_material_leaves_the_sqlite_files(settings: Settings, vault: Vault) -> None:
    if vault.engine.dialect.name != "sqlite":
        pytest.skip("file-level check for the embedded store")
    vault.put(recent_waybills(100))
    with vault.engine.connect() as conn:
        wrapped = [
            row.wrapped_key
            for row in conn.execute(
                sa.select(data_keys.c.wrapped_key).where(data_keys.c.key_day < today())
            )
        ]
    assert wrapped
    vault.shred(today())
    blob = b"".join(p.read_bytes() for p in settings.home.rglob("*") if p.is_file())
    assert not [w for w in wrapped if w in blob]


def test_stats_on_an_empty_vault(vault: Vault) -> None:
    stats = vault.stats()
    assert stats["waybills"] == 0
    assert stats["first_day"] is None


def test_name_and_phone_match_together_through_the_phone_index(vault: Vault) -> None:
    batch = recent_waybills(30)
    vault.put(batch)
    w = batch[5]
    assert vault.find_by_name_phone(f" {w.recipient_name} ", f"+86{w.recipient_phone}") == [
        x.waybill_no
        for x in batch
        if (x.recipient_name, x.recipient_phone) == (w.recipient_name, w.recipient_phone)
    ]
    assert vault.find_by_name_phone("某某某", w.recipient_phone) == []


def test_readers_do_not_wait_for_a_writer(vault: Vault) -> None:
    import time

    from parcelguard.storage import begin_write

    (w,) = recent_waybills(1)
    vault.put([w])
    with begin_write(vault.engine) as conn:  # hold the write lock
        conn.execute(waybills.update().values(category="other"))
        started = time.perf_counter()
        assert vault.find_by_phone(w.recipient_phone) == [w.waybill_no]
        assert vault.stats()["waybills"] == 1
        assert time.perf_counter() - started < 1.0


def test_blind_indexes_are_standard_hmac_sha256() -> None:
    import hmac
    import os

    from parcelguard.vault.blind_index import BlindIndexer

    key = os.urandom(32)
    indexer = BlindIndexer(key)
    assert indexer.phone("13812345678") == hmac.digest(key, b"phone\x0013812345678", "sha256")[:16]
    assert (
        indexer.name_phone("王五", "13812345678")
        == hmac.digest(key, "name+phone\x00王五\x0013812345678".encode(), "sha256")[:16]
    )


def test_stats_count_canaries_apart_from_real_parcels(vault: Vault, settings: Settings) -> None:
    from parcelguard.forensics.canary import plant

    batch = recent_waybills(40)
    vault.put(batch)
    sender = batch[0].sender_id
    yesterday = datetime.now(UTC) - timedelta(days=1)
    for when, count, seed in ((yesterday, 2, 1), (datetime.now(UTC), 1, 2)):
        plant(vault, "sender", sender, count, now=when, waybill_pattern=settings.waybill_pattern,
              seed=seed)  # fmt: skip
    old = [w for w in batch if carrier_day(w.created_at) < today()]
    vault.shred(today())
    stats = vault.stats()
    # Bait is never a parcel: the real counts are what they were before planting.
    assert stats["waybills"] == 40
    assert stats["shredded_waybills"] == len(old)
    assert stats["live_waybills"] == 40 - len(old)
    assert stats["canary_waybills"] == 3
    assert stats["live_canary_waybills"] == 1  # yesterday's two went with their day
