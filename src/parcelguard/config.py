"""Where ParcelGuard keeps its things, read once from the environment.

Settings are a frozen value so that every part of a run sees the same store, keys and
retention; a bad environment variable is a :class:`BadInput` that names the variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from parcelguard.core.errors import BadInput
from parcelguard.core.waybill import DEFAULT_WAYBILL_PATTERN, WaybillRules

DEFAULT_RETENTION_DAYS = 90
# AES-GCM with random 96-bit nonces: stay far below the 2^32 collision bound of NIST SP 800-38D.
DEFAULT_NONCE_BUDGET = 2**30
# The audit log's name in checkpoints and its signing key's name (C2SP: schema-less URL).
DEFAULT_LOG_ORIGIN = "parcelguard.local/audit"


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path
    db_url: str
    kek_file: Path
    kek_env: str | None
    retention_days: int
    waybill_pattern: str
    nonce_budget: int
    log_key_file: Path
    log_origin: str
    redis_url: str | None = None
    """PARCELGUARD_REDIS_URL: where the guard's windows live when several service instances
    share them; unset, they live in the store."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        home = Path(env.get("PARCELGUARD_HOME", "./.parcelguard")).expanduser()
        db_url = env.get("PARCELGUARD_DB") or f"sqlite:///{(home / 'parcelguard.db').as_posix()}"
        kek_file = Path(env.get("PARCELGUARD_KEK_FILE") or home / "keys" / "kek.key")
        pattern = env.get("PARCELGUARD_WAYBILL_PATTERN", DEFAULT_WAYBILL_PATTERN)
        try:
            re.compile(pattern)
        except re.error as exc:
            raise BadInput(
                f"PARCELGUARD_WAYBILL_PATTERN: not a regular expression ({exc})"
            ) from None
        return cls(
            home=home,
            db_url=db_url,
            kek_file=kek_file,
            kek_env=env.get("PARCELGUARD_KEK") or None,
            retention_days=_positive_int(env, "PARCELGUARD_RETENTION_DAYS", DEFAULT_RETENTION_DAYS),
            waybill_pattern=pattern,
            nonce_budget=_positive_int(env, "PARCELGUARD_NONCE_BUDGET", DEFAULT_NONCE_BUDGET),
            log_key_file=Path(env.get("PARCELGUARD_LOG_KEY_FILE") or home / "keys" / "log.key"),
            log_origin=env.get("PARCELGUARD_LOG_ORIGIN") or DEFAULT_LOG_ORIGIN,
            redis_url=env.get("PARCELGUARD_REDIS_URL") or None,
        )

    @property
    def rules(self) -> WaybillRules:
        return WaybillRules.with_pattern(self.waybill_pattern)

    @property
    def policy_dir(self) -> Path:
        return self.home / "policies"

    @property
    def guard_config_file(self) -> Path:
        return self.home / "guard.toml"


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadInput(f"{name}: {raw!r} is not a whole number") from None
    if value <= 0:
        raise BadInput(f"{name}: must be positive, got {value}")
    return value
