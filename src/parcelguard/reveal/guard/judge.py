"""The guard's decision for one request, from its signals and the actor's windows: pure.

Graduated, because a quota is a guess and honest work has peaks: the first answer to
something unusual is a question (a step-up: a supervisor confirms the work), a plaintext
quota hands out masks rather than refusing the work, and only what no honest day produces
(several times the peers' quota, denials piling up, other carriers' numbers) contains the
account at once. Every answer carries the signals that produced it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from parcelguard.reveal.guard.config import GuardConfig, Triple
from parcelguard.reveal.guard.counters import Counts

ALLOW, MASKED, STEP_UP, CONTAIN = "allow", "masked", "step_up", "contain"

# Event kinds counted in the windows.
SENSITIVE = "sensitive"  # a plaintext value or a virtual number handed out
PLAINTEXT = "plaintext"
UNLINKED = "unlinked"  # sensitive, and no workflow relation explains it
DENIED = "denied"  # refused by the policies or the checks before them
FOREIGN = "foreign"  # another carrier's number, or not a waybill number at all
REMOTE = "remote"  # unlinked, and the parcel is bound for and lies in other provinces
REFUSED_UNLINKED = "refused_unlinked"  # refused, and no workflow relation to the parcel
FRESH_TARGETED = "fresh_targeted"  # unlinked, under two days old, a category buyers target


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
    remote: bool = False
    """The parcel is bound for, and lies in, provinces other than the actor's site's."""
    fresh_targeted: bool = False
    """The parcel is fresh and of a category buyers target."""
    run: int = 0
    """Ascending waybill serials the actor asked for in a row, this one included."""

    def kinds(self) -> dict[str, int]:
        """The window events this request adds.

        Remote and fresh-targeted reveals count only when the workflow does not explain
        them. Refused requests for parcels the actor has no workflow relation to (other
        carriers' numbers included) count apart: the clerk of the case, refused every lookup
        of a seller's list, asks a dozen times and gives up, and the security team must hear
        of it even though she obtained nothing. Honest work is refused rarely, and then for
        a mistyped number or a ticket not saved yet: once or twice a day, not ten times. customer service and head office legitimately look at parcels anywhere, of any
        category, but only for a ticket, an exception or a case. Weighting linked ones
        instead would make every busy agent's day look like a buyer's list.
        """
        unlinked = self.sensitive and not self.linked
        counted = {
            SENSITIVE: self.sensitive,
            PLAINTEXT: self.plaintext,
            UNLINKED: unlinked,
            DENIED: self.denied,
            FOREIGN: self.foreign,
            REMOTE: unlinked and self.remote,
            REFUSED_UNLINKED: self.denied and not self.linked,
            FRESH_TARGETED: unlinked and self.fresh_targeted,
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
    contain = _contain(signals, count, quota, config)
    if contain:
        return Verdict(CONTAIN, tuple(contain))
    if not signals.sensitive:
        return Verdict(ALLOW, ())
    step_up = _step_up(signals, count, quota, config)
    if step_up:
        return Verdict(STEP_UP, tuple(step_up))
    if signals.plaintext and count(PLAINTEXT, 2) > config.plaintext_per_day:
        return Verdict(MASKED, ("plaintext_quota",))
    return Verdict(ALLOW, ())


def _contain(
    signals: Signals, count: Callable[[str, int], int], quota: Triple, config: GuardConfig
) -> list[str]:
    """What no honest day produces: the account is suspended at once."""
    contain = [
        f"far_over_quota_{WINDOW_NAMES[window]}"
        for window, limit in enumerate(quota)
        if count(SENSITIVE, window) > limit * config.hard_factor
    ]
    if count(DENIED, 0) >= config.denied_contain_per_10min or (
        count(DENIED, 2) >= config.denied_contain_per_day
    ):
        contain.append("denials_piling_up")
    if count(FOREIGN, 2) >= config.foreign_contain_per_day:
        contain.append("foreign_numbers")
    if count(UNLINKED, 2) >= config.unlinked_contain_per_day:
        contain.append("unlinked_reveals")
    if count(REMOTE, 2) >= config.remote_contain_per_day:
        contain.append("remote_reveals")
    if count(REFUSED_UNLINKED, 2) >= config.refused_unlinked_contain_per_day:
        contain.append("unexplained_lookups_refused")
    if count(FRESH_TARGETED, 2) >= config.fresh_targeted_contain_per_day:
        contain.append("fresh_targeted_reveals")
    if not signals.linked and signals.run >= config.sheet_run_contain:
        contain.append("sheet_order_run")
    return contain


def _step_up(
    signals: Signals, count: Callable[[str, int], int], quota: Triple, config: GuardConfig
) -> list[str]:
    """What honest work sometimes does: a supervisor confirms it (sensitive requests only)."""
    step_up = [
        f"over_quota_{WINDOW_NAMES[window]}"
        for window, limit in enumerate(quota)
        if count(SENSITIVE, window) > limit
    ]
    unexplained = not signals.linked
    if unexplained and count(UNLINKED, 1) > config.unlinked_per_hour:
        step_up.append("no_workflow_link")
    if unexplained and signals.remote and count(REMOTE, 1) >= config.remote_per_hour:
        step_up.append("remote_waybill")
    if (
        unexplained
        and signals.fresh_targeted
        and count(FRESH_TARGETED, 1) >= config.fresh_targeted_per_hour
    ):
        step_up.append("fresh_targeted")
    if unexplained and signals.run >= config.sheet_run_step_up:
        step_up.append("sheet_order")
    if count(DENIED, 0) >= config.denied_step_up_per_10min:
        step_up.append("recent_denials")
    if signals.new_network and config.step_up_new_network:
        step_up.append("new_network")
    return step_up
