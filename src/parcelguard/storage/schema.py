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


# -- workflow facts the reveal policies decide on (issue 6) -------------------------------------
# Who works where, which handhelds are registered to whom, and what each parcel's workflow
# says: assignments, exceptions, tickets, where it physically is, investigation cases. The
# exchange format's tables load into these; no column holds personal data.

employees = sa.Table(
    "employees",
    metadata,
    sa.Column("employee_id", sa.String(64), primary_key=True),
    sa.Column("role", sa.String(24), nullable=False),
    sa.Column("site_id", sa.String(64), nullable=False),
    sa.Column("hired_on", sa.Date, nullable=False),
    sa.Column("left_on", sa.Date, nullable=True),
)

sites = sa.Table(
    "sites",
    metadata,
    sa.Column("site_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("adcode", sa.String(6), nullable=False),
)

# Registered devices: a courier's handheld, a workstation. Revoked devices stay for forensics.
devices = sa.Table(
    "devices",
    metadata,
    sa.Column("device_id", sa.String(64), primary_key=True),
    sa.Column("employee_id", sa.String(64), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),  # handheld, workstation
    sa.Column("registered_at", UTCDateTime(), nullable=False),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
)

# Where a parcel is and how far it got: the latest scan's site and the dispatch/delivery times.
parcel_status = sa.Table(
    "parcel_status",
    metadata,
    sa.Column("waybill_no", sa.String(32), primary_key=True),
    sa.Column("current_site_id", sa.String(64), nullable=True, index=True),
    sa.Column("last_scan_at", UTCDateTime(), nullable=True),
    sa.Column("dispatched_at", UTCDateTime(), nullable=True),
    sa.Column("delivered_at", UTCDateTime(), nullable=True),
)

assignments = sa.Table(
    "assignments",
    metadata,
    sa.Column("waybill_no", sa.String(32), primary_key=True),
    sa.Column("courier_id", sa.String(64), primary_key=True),
    sa.Column("assigned_at", UTCDateTime(), primary_key=True),
    sa.Column("until", UTCDateTime(), nullable=False),
    sa.Index("ix_assignments_courier", "courier_id", "assigned_at"),
)

# Open exceptions (damaged label, refused, address problem) at a site: a station clerk's reason.
parcel_exceptions = sa.Table(
    "parcel_exceptions",
    metadata,
    sa.Column("waybill_no", sa.String(32), primary_key=True),
    sa.Column("site_id", sa.String(64), primary_key=True),
    sa.Column("opened_at", UTCDateTime(), primary_key=True),
    sa.Column("closed_at", UTCDateTime(), nullable=True),
)

tickets = sa.Table(
    "tickets",
    metadata,
    sa.Column("ticket_id", sa.String(64), primary_key=True),
    sa.Column("waybill_no", sa.String(32), nullable=False, index=True),
    sa.Column("agent_id", sa.String(64), nullable=False, index=True),
    sa.Column("opened_at", UTCDateTime(), nullable=False),
    sa.Column("closed_at", UTCDateTime(), nullable=True),
    sa.Column("kind", sa.String(24), nullable=False),
)

# Investigation cases: break-glass access for security officers and analysts, with a written
# justification and a second approver; scoped to the waybills named in the case.
investigation_cases = sa.Table(
    "investigation_cases",
    metadata,
    sa.Column("case_id", sa.String(64), primary_key=True),
    sa.Column("opened_by", sa.String(64), nullable=False),
    sa.Column("approved_by", sa.String(64), nullable=True),
    sa.Column("justification", sa.Text, nullable=False),
    sa.Column("opened_at", UTCDateTime(), nullable=False),
    sa.Column("closed_at", UTCDateTime(), nullable=True),
)

case_waybills = sa.Table(
    "case_waybills",
    metadata,
    sa.Column(
        "case_id",
        sa.String(64),
        sa.ForeignKey("investigation_cases.case_id"),
        primary_key=True,
    ),
    sa.Column("waybill_no", sa.String(32), primary_key=True),
)

# -- virtual numbers (隐私号) ---------------------------------------------------------------------
# The carrier's finite pool of virtual numbers and every binding ever made (kept for forensics:
# a virtual number in a leaked file names the employee it was bound to at that time).
vnum_pool = sa.Table(
    "vnum_pool",
    metadata,
    sa.Column("number", sa.String(20), primary_key=True),
    sa.Column("quarantined_until", UTCDateTime(), nullable=True),  # not reusable before
    # Free numbers are found by this index: never used (NULL) first, then the longest rested.
    sa.Index("ix_vnum_pool_free", "quarantined_until", "number"),
)

vnum_bindings = sa.Table(
    "vnum_bindings",
    metadata,
    sa.Column("binding_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("number", sa.String(20), sa.ForeignKey("vnum_pool.number"), nullable=False),
    sa.Column("waybill_no", sa.String(32), nullable=False),
    sa.Column("employee_id", sa.String(64), nullable=False),
    sa.Column("device_id", sa.String(64), nullable=False),
    sa.Column("bound_at", UTCDateTime(), nullable=False),
    sa.Column("valid_until", UTCDateTime(), nullable=False),
    sa.Column("released_at", UTCDateTime(), nullable=True),
    sa.Index("ix_vnum_bindings_number", "number", "bound_at"),
    sa.Index("ix_vnum_bindings_waybill_employee", "waybill_no", "employee_id"),
)

# -- label tokens ---------------------------------------------------------------------------------
# A label's QR token is bound to the first registered device that redeems it; a later redeem
# from another device is a replay.
label_token_redemptions = sa.Table(
    "label_token_redemptions",
    metadata,
    sa.Column("token_id", sa.String(32), primary_key=True),
    sa.Column("device_id", sa.String(64), nullable=False),
    sa.Column("first_redeemed_at", UTCDateTime(), nullable=False),
)

# -- the online guard ---------------------------------------------------------------------------
# Per-actor event counts in one-minute buckets (``bucket`` is the bucket's start, POSIX
# seconds) for the guard's sliding windows; rows older than the longest window are deleted as
# the guard goes, so the table stays small. Actors are employee ids: no personal data.
guard_counts = sa.Table(
    "guard_counts",
    metadata,
    sa.Column("actor", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("bucket", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("n", sa.Integer, nullable=False),
    sqlite_with_rowid=False,  # the key is the row: one B-tree per bucket, not two
)

# The first time the guard saw an (actor, key) pair: a device id, a network prefix.
guard_seen = sa.Table(
    "guard_seen",
    metadata,
    sa.Column("actor", sa.String(64), primary_key=True),
    sa.Column("seen_key", sa.String(128), primary_key=True),
    sa.Column("first_seen", sa.BigInteger, nullable=False),  # POSIX seconds
    sqlite_with_rowid=False,
)

# Per actor, the waybill serial asked last and how many in a row went up (a spreadsheet's
# order, not a route's): see ``parcelguard.reveal.guard.counters.Run``. Idle rows are swept.
guard_runs = sa.Table(
    "guard_runs",
    metadata,
    sa.Column("actor", sa.String(64), primary_key=True),
    sa.Column("last_serial", sa.BigInteger, nullable=False),
    sa.Column("run_length", sa.Integer, nullable=False),
    sa.Column("seen_at", sa.BigInteger, nullable=False),  # POSIX seconds
    sqlite_with_rowid=False,
)

# Employees the guard (or a security officer) contained: their reveals stop until released.
guard_containments = sa.Table(
    "guard_containments",
    metadata,
    sa.Column("containment_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("employee_id", sa.String(64), nullable=False),
    sa.Column("contained_at", UTCDateTime(), nullable=False),
    sa.Column("reasons", sa.Text, nullable=False),  # a JSON list of reason codes
    sa.Column("alert_id", sa.String(64), nullable=False, unique=True),
    sa.Column("contained_by", sa.String(64), nullable=False),  # "guard" or a person
    sa.Column("released_at", UTCDateTime(), nullable=True),
    sa.Column("released_by", sa.String(64), nullable=True),
    sa.Column("release_reason", sa.String(512), nullable=True),
    sa.Index("ix_guard_containments_employee", "employee_id", "released_at"),
)

# -- leak forensics -------------------------------------------------------------------------------
# Canary records (honeytokens): synthetic recipients put in the vault through its normal put
# path, each reachable only through one slice of the carrier (a station, a sender), so that
# one found in a leaked file names the slice it leaked from. The row says which waybill is a
# canary and which slice it sits in; the canary's phone is in the vault like any other (its
# ciphertext and blind index), never here, so the table alone does not tell a reader which
# phones are bait. No foreign key to ``waybills``: the row is written first (the intent), the
# waybill then goes through the vault's own put, and a failed put deletes the row again; a
# row whose waybill is missing is harmless and ``canary list`` shows it. See
# ``parcelguard.forensics.canary``.
canaries = sa.Table(
    "canaries",
    metadata,
    sa.Column("waybill_no", sa.String(32), primary_key=True),
    sa.Column("slice_kind", sa.String(16), nullable=False),  # station, sender
    sa.Column("slice_value", sa.String(64), nullable=False),  # the site_id or sender_id
    sa.Column("planted_at", UTCDateTime(), nullable=False),
    sa.Index("ix_canaries_slice", "slice_kind", "slice_value"),
)
