"""Operating a ParcelGuard installation: initialise it, check it, open its vault."""

from parcelguard.admin.doctor import doctor
from parcelguard.admin.initialise import (
    initialise,
    key_provider,
    log_signer,
    open_audit_log,
    open_reveal_service,
    open_vault,
)

__all__ = [
    "doctor",
    "initialise",
    "key_provider",
    "log_signer",
    "open_audit_log",
    "open_reveal_service",
    "open_vault",
]
