"""Witness cosignatures of the audit log's checkpoints, kept so evidence bundles carry them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_cosignatures",
        sa.Column(
            "tree_size",
            sa.BigInteger,
            sa.ForeignKey("audit_checkpoints.tree_size"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("witness_key", sa.String(200), primary_key=True),
        sa.Column("line", sa.Text, nullable=False),
        sa.Column("cosigned_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("audit_cosignatures")
