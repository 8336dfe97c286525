"""Canary records for leak forensics: which waybills are bait, and in which slice.

A canary is a synthetic recipient put in the vault like any other waybill; this table names
the waybill and the slice (a station or a sender) it is reachable through, so that a canary
found in a leaked file narrows the source (``parcelguard.forensics.canary``). It holds no
phone: the canary's phone is in the vault, encrypted and blind-indexed like a real one.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "canaries",
        sa.Column("waybill_no", sa.String(32), primary_key=True),
        sa.Column("slice_kind", sa.String(16), nullable=False),
        sa.Column("slice_value", sa.String(64), nullable=False),
        sa.Column("planted_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_canaries_slice", "canaries", ["slice_kind", "slice_value"])


def downgrade() -> None:
    op.drop_index("ix_canaries_slice", table_name="canaries")
    op.drop_table("canaries")
