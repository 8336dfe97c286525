"""``parcelguard init``: store, keys and default policies, created once and never clobbered."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path

import sqlalchemy as sa

from parcelguard.audit.log import AuditLog
from parcelguard.audit.note import NoteError, Signer
from parcelguard.config import Settings
from parcelguard.core.clock import utc_now
from parcelguard.core.errors import BadInput, KeyError_
from parcelguard.labels.keys import label_key, label_key_path
from parcelguard.labels.token import LabelTokens
from parcelguard.reveal.engine import PolicyEngine
from parcelguard.reveal.guard import (
    Containments,
    Guard,
    GuardConfig,
    Notifier,
    WindowCounters,
)
from parcelguard.reveal.guard.counters_redis import RedisCounters
from parcelguard.reveal.guard.counters_store import StoreCounters
from parcelguard.reveal.service import AuditAppend, RevealService
from parcelguard.storage import (
    backend_name,
    begin_write,
    connect_current,
    connect_store,
    current_revision,
    redacted_url,
    upgrade,
)
from parcelguard.storage.schema import data_keys, index_keys
from parcelguard.vault import EnvironmentKek, KeyProvider, LocalKeyFile, Vault, keystore
from parcelguard.vault.keys import create_key_file, read_secret_text, write_secret_text
from parcelguard.vnum import VirtualNumbers


@dataclass(slots=True)
class InitReport:
    home: str
    backend: str
    database: str
    schema_version: str | None
    kek_source: str
    kek_id: str
    created: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "home": self.home,
            "backend": self.backend,
            "database": self.database,
            "schema_version": self.schema_version,
            "kek_source": self.kek_source,
            "kek_id": self.kek_id,
            "created": self.created,
        }


def key_provider(settings: Settings) -> KeyProvider:
    if settings.kek_env is not None:
        return EnvironmentKek("PARCELGUARD_KEK", settings.kek_env)
    return LocalKeyFile(settings.kek_file)


def open_vault(settings: Settings) -> Vault:
    return Vault.open(
        settings.db_url,
        key_provider(settings),
        retention_days=settings.retention_days,
        nonce_budget=settings.nonce_budget,
    )


def log_signer(settings: Settings) -> Signer:
    """The audit log's checkpoint-signing key, kept in its own file apart from the database."""
    try:
        return Signer.from_signer_key(read_secret_text(settings.log_key_file))
    except NoteError as exc:
        raise KeyError_(f"key file {settings.log_key_file}: {exc}") from None


def open_audit_log(settings: Settings) -> AuditLog:
    """The audit log of the configured store (schema checked like the vault's)."""
    return AuditLog(connect_current(settings.db_url))


REGIMES = ("guarded", "legacy")
LEGACY_POLICY_DIR = Path(__file__).resolve().parent.parent / "reveal" / "legacy_policies"
"""The rights of the Jingzhou case (nationwide plaintext lookup for office roles), shipped
only so that the live simulation can show what they cost; never the installation's."""


def open_reveal_service(
    settings: Settings,
    clock: Callable[[], datetime] = utc_now,
    audit_append: AuditAppend | None = None,
    *,
    regime: str = "guarded",
    notifier: Notifier | None = None,
) -> RevealService:
    """The one door, wired to the configured store, keys, policies and audit log.

    The policies are parsed here, once; ``audit_append`` defaults to the log's own append
    (one transaction per batch); a server passes a group committer's instead. ``regime``
    ``legacy`` swaps in :data:`LEGACY_POLICY_DIR` and no guard, for the live simulation.
    ``notifier`` is where the guard sends a containment's alert (default: the
    ``parcelguard.guard`` log, which a SIEM tails); a simulation that reports its own
    containments passes a :class:`~parcelguard.reveal.guard.MemoryNotifier`.
    """
    if regime not in REGIMES:
        raise BadInput(f"regime {regime!r}: choose one of {', '.join(REGIMES)}")
    engine = connect_current(settings.db_url)
    log = AuditLog(engine)
    policy_dir = LEGACY_POLICY_DIR if regime == "legacy" else settings.policy_dir
    return RevealService(
        engine=engine,
        policies=PolicyEngine.load(policy_dir),
        keys=key_provider(settings),
        audit_append=audit_append or log.append,
        numbers=VirtualNumbers(engine),
        waybill_pattern=settings.waybill_pattern,
        clock=clock,
        labels=LabelTokens(label_key(settings, create=False)),
        same_store=True,  # the audit log and the virtual numbers share the store
        guard=None if regime == "legacy" else open_guard(settings, engine, notifier),
        # The log's own append runs in the caller's thread: a batch commits once.
        one_transaction=audit_append is None,
    )


def open_guard(settings: Settings, engine: sa.Engine, notifier: Notifier | None = None) -> Guard:
    """The online guard: windows in Redis when PARCELGUARD_REDIS_URL is set, else the store."""
    counters: WindowCounters
    if settings.redis_url:
        counters = RedisCounters.from_url(settings.redis_url)
    else:
        counters = StoreCounters(engine, flushed_by_a_later_commit=True)
    config = GuardConfig.load(settings.guard_config_file)
    return Guard(counters, Containments(engine), config, notifier=notifier)


def initialise(settings: Settings) -> InitReport:
    created: list[str] = []
    if not settings.home.exists():
        settings.home.mkdir(parents=True, mode=0o700)
        created.append("home")
    engine = connect_store(settings.db_url, create=True)
    try:
        before = current_revision(engine)
        if settings.kek_env is None and not settings.kek_file.exists():
            _refuse_new_kek_over_old_keys(engine, settings.kek_file)
            create_key_file(settings.kek_file)
            created.append("kek")
        provider = key_provider(settings)
        upgrade(engine)
        after = current_revision(engine)
        if after != before:
            created.append("schema")
        with begin_write(engine) as conn:
            if keystore.ensure_index_key(conn, provider, utc_now()):
                created.append("blind_index_key")
            keystore.load_index_key(conn, provider)  # the KEK must open what the store holds
        if not settings.log_key_file.exists():
            write_secret_text(
                settings.log_key_file, Signer.generate(settings.log_origin).signer_key()
            )
            created.append("log_key")
        public = settings.log_key_file.with_suffix(".pub")
        if not public.exists():  # the verifier key, for witnesses and investigators
            public.write_text(log_signer(settings).verifier_key() + "\n", encoding="ascii")
        if not label_key_path(settings).exists():  # the key of the labels' QR tokens
            label_key(settings, create=True)
            created.append("label_key")
        if _install_default_policies(settings.policy_dir):
            created.append("policies")
        return InitReport(
            home=str(settings.home),
            backend=backend_name(engine),
            database=redacted_url(settings.db_url),
            schema_version=after,
            kek_source=provider.source,
            kek_id=provider.kek_id,
            created=created,
        )
    finally:
        engine.dispose()


def _refuse_new_kek_over_old_keys(engine: sa.Engine, path: Path) -> None:
    """A lost key file must not be silently replaced: the old data would become garbage."""
    inspector = sa.inspect(engine)
    if not inspector.has_table("data_keys"):
        return
    with engine.connect() as conn:
        wrapped = conn.execute(sa.select(sa.func.count()).select_from(index_keys)).scalar_one()
        wrapped += conn.execute(sa.select(sa.func.count()).select_from(data_keys)).scalar_one()
    if wrapped:
        raise KeyError_(
            f"key file {path}: missing, but the store holds {wrapped} keys wrapped by a KEK; "
            "restore the key file (or set PARCELGUARD_KEK_FILE) instead of creating a new one"
        )


def _install_default_policies(target: Path) -> bool:
    """Copy the packaged default policies; an operator's edited files are never overwritten."""
    source = resources.files("parcelguard.reveal").joinpath("policies")
    copied = False
    target.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        destination = target / entry.name
        if entry.is_file() and not destination.exists():
            with resources.as_file(entry) as src:
                shutil.copyfile(src, destination)
            copied = True
    return copied
