"""Storage engines, the schema and its migrations: SQLite by default, PostgreSQL in production."""

from parcelguard.storage.engine import (
    backend_name,
    begin_write,
    connect_store,
    one_write_transaction,
    redacted_url,
)
from parcelguard.storage.migrate import connect_current, current_revision, head_revision, upgrade

__all__ = [
    "backend_name",
    "begin_write",
    "connect_current",
    "connect_store",
    "current_revision",
    "head_revision",
    "one_write_transaction",
    "redacted_url",
    "upgrade",
]
