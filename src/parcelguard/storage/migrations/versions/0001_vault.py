"""The vault: data keys, index keys, waybills with encrypted recipient fields, shred events.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_keys",
        sa.Column("key_id", sa.String(40), primary_key=True),
        sa.Column("key_day", sa.Date, nullable=False),
        sa.Column("kek_id", sa.String(32), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary, nullable=True),
        sa.Column("encryptions", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_data_keys_key_day", "data_keys", ["key_day"])
    op.create_table(
        "index_keys",
        sa.Column("purpose", sa.String(32), primary_key=True),
        sa.Column("key_id", sa.String(40), nullable=False, unique=True),
        sa.Column("kek_id", sa.String(32), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "waybills",
        sa.Column("waybill_no", sa.String(32), primary_key=True),
        sa.Column("sender_id", sa.String(64), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("origin_site_id", sa.String(64), nullable=False),
        sa.Column("dest_site_id", sa.String(64), nullable=False),
        sa.Column("dest_adcode", sa.String(6), nullable=False),
        sa.Column("key_id", sa.String(40), sa.ForeignKey("data_keys.key_id"), nullable=False),
        sa.Column("name_ct", sa.LargeBinary, nullable=True),
        sa.Column("phone_ct", sa.LargeBinary, nullable=True),
        sa.Column("address_ct", sa.LargeBinary, nullable=True),
        sa.Column("phone_bidx", sa.LargeBinary(16), nullable=True),
        sa.Column("name_phone_bidx", sa.LargeBinary(16), nullable=True),
        sa.Column("name_masked", sa.String(64), nullable=True),
        sa.Column("phone_masked", sa.String(11), nullable=True),
        sa.Column("address_masked", sa.String(320), nullable=True),
        sa.Column("shredded_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_waybills_key_id", "waybills", ["key_id"])
    op.create_index("ix_waybills_phone_bidx", "waybills", ["phone_bidx"])
    op.create_table(
        "shred_events",
        sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("before_day", sa.Date, nullable=False),
        sa.Column("keys_destroyed", sa.Integer, nullable=False),
        sa.Column("waybills_shredded", sa.BigInteger, nullable=False),
        sa.Column("shredded_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("shred_events")
    op.drop_table("waybills")
    op.drop_table("index_keys")
    op.drop_table("data_keys")
