"""The tables, as SQLAlchemy Core objects: what queries are written against.

Migrations under ``migrations/versions`` create them; a test checks that a migrated database
matches this metadata, so the two cannot drift apart. No column holds plaintext personal data:
recipient fields are AES-GCM ciphertext, blind indexes (truncated HMAC) or masked forms.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend.

    SQLite has no time zones; storing UTC and re-attaching it on the way out keeps the code
    free of naive datetimes, which is where day boundaries go wrong.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; give a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData()

# Keys that encrypt recipient fields; one or more per Beijing creation day, each wrapped by
# the key-encryption key (KEK). Destroying ``wrapped_key`` is crypto-shredding.
data_keys = sa.Table(
    "data_keys",
    metadata,
    sa.Column("key_id", sa.String(40), primary_key=True),
    sa.Column("key_day", sa.Date, nullable=False, index=True),
    sa.Column("kek_id", sa.String(32), nullable=False),
    sa.Column("wrapped_key", sa.LargeBinary, nullable=True),
    sa.Column("encryptions", sa.BigInteger, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("destroyed_at", UTCDateTime(), nullable=True),
)

# Long-lived keys with a single purpose (the blind-index HMAC key), wrapped by the KEK.
index_keys = sa.Table(
    "index_keys",
    metadata,
    sa.Column("purpose", sa.String(32), primary_key=True),
    sa.Column("key_id", sa.String(40), nullable=False, unique=True),
    sa.Column("kek_id", sa.String(32), nullable=False),
    sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

waybills = sa.Table(
    "waybills",
    metadata,
    sa.Column("waybill_no", sa.String(32), primary_key=True),
    sa.Column("sender_id", sa.String(64), nullable=False),
    sa.Column("category", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("origin_site_id", sa.String(64), nullable=False),
    sa.Column("dest_site_id", sa.String(64), nullable=False),
    sa.Column("dest_adcode", sa.String(6), nullable=False),
    sa.Column(
        "key_id", sa.String(40), sa.ForeignKey("data_keys.key_id"), nullable=False, index=True
    ),
    sa.Column("name_ct", sa.LargeBinary, nullable=True),
    sa.Column("phone_ct", sa.LargeBinary, nullable=True),
    sa.Column("address_ct", sa.LargeBinary, nullable=True),
    sa.Column("phone_bidx", sa.LargeBinary(16), nullable=True, index=True),
    # Not indexed on purpose: a name+phone match is also a phone match, so lookups go through
    # the phone index and filter; a second random-key B-tree cost ~3 us of every insert.
    sa.Column("name_phone_bidx", sa.LargeBinary(16), nullable=True),
    sa.Column("name_masked", sa.String(64), nullable=True),
    sa.Column("phone_masked", sa.String(11), nullable=True),
    sa.Column("address_masked", sa.String(320), nullable=True),
    sa.Column("shredded_at", UTCDateTime(), nullable=True),
)

shred_events = sa.Table(
    "shred_events",
    metadata,
    sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("before_day", sa.Date, nullable=False),
    sa.Column("keys_destroyed", sa.Integer, nullable=False),
    sa.Column("waybills_shredded", sa.BigInteger, nullable=False),
    sa.Column("shredded_at", UTCDateTime(), nullable=False),
)


# -- the tamper-evident audit log (RFC 9162 Merkle tree) ---------------------------------------

# One row per entry: its canonical bytes (``parcelguard.audit.entry``), indexed by sequence.
# On SQLite ``seq`` is the rowid itself (INTEGER PRIMARY KEY): one B-tree per entry, not two.
audit_entries = sa.Table(
    "audit_entries",
    metadata,
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("entry", sa.LargeBinary, nullable=False),
)

# Hash of every complete subtree: (level, idx) covers leaves [idx * 2^level, (idx+1) * 2^level).
# Level 0 holds the leaf hashes. Proofs read O(log n) rows; nothing is ever recomputed.
audit_nodes = sa.Table(
    "audit_nodes",
    metadata,
    sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hash", sa.LargeBinary(32), nullable=False),
    sqlite_with_rowid=False,  # the key is the row: one B-tree per subtree hash, not two
)

# Signed checkpoints (C2SP tlog-checkpoint signed notes), one per published tree size.
audit_checkpoints = sa.Table(
    "audit_checkpoints",
    metadata,
    sa.Column("tree_size", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

# Witness cosignatures (C2SP tlog-cosignature lines) of stored checkpoints, one per witness key.
# The log verifies each before keeping it; evidence bundles append them to the checkpoint note.
audit_cosignatures = sa.Table(
    "audit_cosignatures",
    metadata,
    sa.Column(
        "tree_size",
        sa.BigInteger,
        sa.ForeignKey("audit_checkpoints.tree_size"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("witness_key", sa.String(200), primary_key=True),
    sa.Column("line", sa.Text, nullable=False),
    sa.Column("cosigned_at", sa.BigInteger, nullable=False),  # POSIX seconds, from the line
)
