"""Alembic, driven from code: ``parcelguard init`` upgrades, ``doctor`` compares revisions."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from parcelguard.storage.engine import begin_write

_MIGRATIONS = Path(__file__).parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` in one transaction (idempotent)."""
    config = _config()
    with begin_write(engine) as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def connect_current(url: str) -> Engine:
    """An engine on a store whose schema is at this code's head; says to run init otherwise."""
    from parcelguard.core.errors import StoreUnavailable
    from parcelguard.storage.engine import connect_store

    engine = connect_store(url)
    current, head = current_revision(engine), head_revision()
    if current != head:
        engine.dispose()
        raise StoreUnavailable(
            f"the store's schema is at {current or 'nothing'}, this ParcelGuard needs {head}; "
            "run `parcelguard init`"
        )
    return engine


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        rev: str | None = MigrationContext.configure(conn).get_current_revision()
        return rev


def head_revision() -> str:
    head: str | None = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise RuntimeError("no migrations are packaged")
    return head
