"""Witness cosignatures of the audit log's checkpoints; leaner audit tables on SQLite.

Cosignatures are kept so that evidence bundles carry them. On SQLite the entry table's key
becomes the rowid itself and the subtree table drops its rowid (WITHOUT ROWID): each append
then writes one B-tree per row instead of two (measured: bench/audit_log.py).

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


_LEAN_SQLITE_TABLES = (
    ("audit_entries", "seq INTEGER NOT NULL PRIMARY KEY, entry BLOB NOT NULL", "seq, entry", ""),
    (
        "audit_nodes",
        "level SMALLINT NOT NULL, idx BIGINT NOT NULL, hash BLOB NOT NULL, "
        "PRIMARY KEY (level, idx)",
        "level, idx, hash",
        " WITHOUT ROWID",
    ),
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table, columns, names, options in _LEAN_SQLITE_TABLES:
            op.execute(f"CREATE TABLE {table}_lean ({columns}){options}")
            op.execute(f"INSERT INTO {table}_lean ({names}) SELECT {names} FROM {table}")  # noqa: S608 (constants)
            op.execute(f"DROP TABLE {table}")
            op.execute(f"ALTER TABLE {table}_lean RENAME TO {table}")
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
