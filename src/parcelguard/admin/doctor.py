"""``parcelguard doctor``: what this installation is, and everything wrong with it.

Every check turns a failure into a problem string instead of an exception, so one run
shows all that needs fixing (wrong key file, old schema, exposed key, no policies).
"""

from __future__ import annotations

import sqlalchemy as sa

from parcelguard.admin.initialise import key_provider
from parcelguard.config import Settings
from parcelguard.core.errors import BadInput, ParcelGuardError
from parcelguard.reveal.engine import PolicyEngine
from parcelguard.storage import (
    backend_name,
    connect_store,
    current_revision,
    head_revision,
    redacted_url,
)
from parcelguard.storage.schema import data_keys, index_keys
from parcelguard.vault import KeyProvider, keystore


def doctor(settings: Settings) -> dict[str, object]:
    problems: list[str] = []
    report: dict[str, object] = {
        "home": str(settings.home),
        "database": redacted_url(settings.db_url),
        "backend": None,
        "schema_version": None,
        "schema_head": head_revision(),
        "keys": {},
        "policies": [],
        "retention_days": settings.retention_days,
        "problems": problems,
    }
    keys: dict[str, object] = {"kek": "missing"}
    report["keys"] = keys
    provider = None
    try:
        provider = key_provider(settings)
        keys.update(kek="ok", kek_source=provider.source, kek_id=provider.kek_id)
    except ParcelGuardError as exc:
        problems.append(exc.message)
    try:
        engine = connect_store(settings.db_url)
    except ParcelGuardError as exc:
        problems.append(exc.message)
        return report
    try:
        report["backend"] = backend_name(engine)
        version = current_revision(engine)
        report["schema_version"] = version
        if version != report["schema_head"]:
            problems.append(
                f"schema is at {version or 'nothing'}, expected {report['schema_head']}; "
                "run `parcelguard init`"
            )
            return report
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            report["journal_mode"] = mode
            if mode != "wal":
                problems.append(f"SQLite journal mode is {mode}, expected wal")
        _check_keys(engine, provider, keys, problems)
    finally:
        engine.dispose()
    policies = (
        sorted(p.name for p in settings.policy_dir.glob("*"))
        if settings.policy_dir.exists()
        else []
    )
    report["policies"] = policies
    if not policies:
        problems.append(f"no policies in {settings.policy_dir}; run `parcelguard init`")
    else:
        try:  # the reveal service would refuse to open on a broken policy set
            PolicyEngine.load(settings.policy_dir)
        except BadInput as exc:
            problems.append(f"reveal policies: {exc.message}")
    return report


def _check_keys(
    engine: sa.Engine, provider: KeyProvider | None, keys: dict[str, object], problems: list[str]
) -> None:
    """Count keys and check that the configured KEK is the one that wrapped them."""
    with engine.connect() as conn:
        counts = conn.execute(
            sa.select(sa.func.count(), sa.func.count(data_keys.c.destroyed_at))
        ).one()
        keys["data_keys"] = counts[0] - counts[1]
        keys["destroyed_data_keys"] = counts[1]
        kek_ids = {row[0] for row in conn.execute(sa.select(data_keys.c.kek_id).distinct())}
        kek_ids |= {row[0] for row in conn.execute(sa.select(index_keys.c.kek_id))}
        keys["index_key"] = "missing"
        if provider is not None:
            try:
                keystore.load_index_key(conn, provider)
                keys["index_key"] = "ok"
            except ParcelGuardError as exc:
                keys["index_key"] = "unreadable"
                problems.append(exc.message)
            foreign = sorted(kek_ids - {provider.kek_id})
            if foreign:
                problems.append(
                    f"the store holds keys wrapped by KEK(s) {', '.join(foreign)}, "
                    f"but the configured KEK is {provider.kek_id}"
                )
