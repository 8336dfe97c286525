"""The guard's decision for one request, from its signals and the actor's windows: pure.

Graduated, because a quota is a guess and honest work has peaks: the first answer to
something unusual is a question (a step-up: a supervisor confirms the work), a plaintext
quota hands out masks rather than refusing the work, and only what no honest day produces
(several times the peers' quota, denials piling up, other carriers' numbers) contains the
account at once. Every answer carries the signals that produced it.
"""

from __future__ import annotations

from dataclasses import dataclass

from parcelguard.reveal.guard.config import GuardConfig
from parcelguard.reveal.guard.counters import Counts

ALLOW, MASKED, STEP_UP, CONTAIN = "allow", "masked", "step_up", "contain"

# Event kinds counted in the windows.
SENSITIVE = "sensitive"  # a plaintext value or a virtual number handed out
PLAINTEXT = "plaintext"
UNLINKED = "unlinked"  # sensitive, and no workflow relation explains it
DENIED = "denied"  # refused by the policies or the checks before them
FOREIGN = "foreign"  # another carrier's number, or not a waybill number at all


@dataclass(frozen=True, slots=True)
class Signals:
    """What one request says about itself, before any history."""

    role: str
    site_kind: str
    sensitive: bool
    plaintext: bool
    linked: bool
    denied: bool
    foreign: bool
    new_network: bool

    def kinds(self) -> dict[str, int]:
        """The window events this request adds."""
        counted = {
            SENSITIVE: self.sensitive,
            PLAINTEXT: self.plaintext,
            UNLINKED: self.sensitive and not self.linked,
            DENIED: self.denied,
            FOREIGN: self.foreign,
        }
        return {kind: 1 for kind, happened in counted.items() if happened}


@dataclass(frozen=True, slots=True)
class Verdict:
    action: str
    reasons: tuple[str, ...]


WINDOW_NAMES = ("10m", "1h", "1d")


def judge(signals: Signals, counts: Counts, config: GuardConfig) -> Verdict:
    """``counts`` include this request; windows in ``config.windows`` order (10 min, 1 h, 1 d)."""

    def count(kind: str, window: int) -> int:
        values = counts.get(kind, ())
        return values[window] if window < len(values) else 0

    quota = config.quota(signals.role, signals.site_kind)
    contain: list[str] = []
    for window, limit in enumerate(quota):
        if count(SENSITIVE, window) > limit * config.hard_factor:
            contain.append(f"far_over_quota_{WINDOW_NAMES[window]}")
    if count(DENIED, 0) >= config.denied_contain_per_10min or (
        count(DENIED, 2) >= config.denied_contain_per_day
    ):
        contain.append("denials_piling_up")
    if count(FOREIGN, 2) >= config.foreign_contain_per_day:
        contain.append("foreign_numbers")
    if count(UNLINKED, 2) >= config.unlinked_contain_per_day:
        contain.append("unlinked_reveals")
    if contain:
        return Verdict(CONTAIN, tuple(contain))
    if not signals.sensitive:
        return Verdict(ALLOW, ())
    step_up = [
        f"over_quota_{WINDOW_NAMES[window]}"
        for window, limit in enumerate(quota)
        if count(SENSITIVE, window) > limit
    ]
    if not signals.linked and count(UNLINKED, 1) > config.unlinked_per_hour:
        step_up.append("no_workflow_link")
    if count(DENIED, 0) >= config.denied_step_up_per_10min:
        step_up.append("recent_denials")
    if signals.new_network and config.step_up_new_network:
        step_up.append("new_network")
    if step_up:
        return Verdict(STEP_UP, tuple(step_up))
    if signals.plaintext and count(PLAINTEXT, 2) > config.plaintext_per_day:
        return Verdict(MASKED, ("plaintext_quota",))
    return Verdict(ALLOW, ())
