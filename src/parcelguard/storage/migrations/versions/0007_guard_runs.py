"""The online guard's memory of the order numbers are asked in: one row per actor.

A clerk working through a seller's spreadsheet asks for waybill numbers in the sheet's
numeric order; the guard remembers, per actor, the serial asked last and how many went up
in a row (``parcelguard.reveal.guard.counters.Run``). One row per actor, deleted when idle.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "guard_runs",
        sa.Column("actor", sa.String(64), primary_key=True),
        sa.Column("last_serial", sa.BigInteger, nullable=False),
        sa.Column("run_length", sa.Integer, nullable=False),
        sa.Column("seen_at", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("guard_runs")
