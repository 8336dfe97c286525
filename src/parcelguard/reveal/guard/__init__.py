"""The online risk guard: per-actor windows and graduated answers inside the one door."""

from parcelguard.reveal.guard.config import GuardConfig
from parcelguard.reveal.guard.containments import Containment, Containments
from parcelguard.reveal.guard.counters import GuardStateUnavailable, WindowCounters
from parcelguard.reveal.guard.guard import Guard, GuardItem, GuardOutcome
from parcelguard.reveal.guard.notify import LogNotifier, MemoryNotifier, Notifier
from parcelguard.reveal.guard.stepup import RefuseAll, StepUp, StepUpResult, WorkflowSupervisor

__all__ = [
    "Containment",
    "Containments",
    "Guard",
    "GuardConfig",
    "GuardItem",
    "GuardOutcome",
    "GuardStateUnavailable",
    "LogNotifier",
    "MemoryNotifier",
    "Notifier",
    "RefuseAll",
    "StepUp",
    "StepUpResult",
    "WindowCounters",
    "WorkflowSupervisor",
]
