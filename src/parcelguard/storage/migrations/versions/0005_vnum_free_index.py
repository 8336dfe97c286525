"""An index to find free virtual numbers without scanning the pool.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_vnum_pool_free", "vnum_pool", ["quarantined_until", "number"])


def downgrade() -> None:
    op.drop_index("ix_vnum_pool_free", "vnum_pool")
