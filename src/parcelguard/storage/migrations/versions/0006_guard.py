"""The online guard: sliding-window counts, first sightings and containments.

``guard_counts`` and ``guard_seen`` drop their rowid on SQLite (WITHOUT ROWID): the key is
the whole row, so each write touches one B-tree instead of two.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "guard_counts",
        sa.Column("actor", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("bucket", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("n", sa.Integer, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "guard_seen",
        sa.Column("actor", sa.String(64), primary_key=True),
        sa.Column("seen_key", sa.String(128), primary_key=True),
        sa.Column("first_seen", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "guard_containments",
        sa.Column("containment_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("employee_id", sa.String(64), nullable=False),
        sa.Column("contained_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("alert_id", sa.String(64), nullable=False, unique=True),
        sa.Column("contained_by", sa.String(64), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(64), nullable=True),
        sa.Column("release_reason", sa.String(512), nullable=True),
    )
    op.create_index(
        "ix_guard_containments_employee", "guard_containments", ["employee_id", "released_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_guard_containments_employee", "guard_containments")
    op.drop_table("guard_containments")
    op.drop_table("guard_seen")
    op.drop_table("guard_counts")
