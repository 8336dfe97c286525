"""Telling the security team: a containment raises an alert through a pluggable notifier.

The alert names the account, the signals and the alert id (which the audit log and
``parcelguard guard status`` also show); never a recipient's data, which the guard never
sees.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

from parcelguard.reveal.guard.containments import Containment

log = logging.getLogger("parcelguard.guard")


class Notifier(Protocol):
    def notify(self, containment: Containment) -> None: ...


class LogNotifier:
    """Writes the alert to the ``parcelguard.guard`` logger (a SIEM usually tails it)."""

    def notify(self, containment: Containment) -> None:
        log.warning(
            "contained %s (alert %s): %s",
            containment.employee_id,
            containment.alert_id,
            ", ".join(containment.reasons),
        )


@dataclass
class MemoryNotifier:
    """Keeps alerts in a list: for the live simulation and tests."""

    sent: list[Containment] = field(default_factory=list)

    def notify(self, containment: Containment) -> None:
        self.sent.append(containment)
