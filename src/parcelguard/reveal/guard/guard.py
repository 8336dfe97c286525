"""The online guard: after the policy and before the value, for a whole batch at once.

Order, and why: containments first (a suspended account gets nothing, whatever the policy
says); then every request's signals are counted in the actor's windows in one round trip
(denied ones too, since denials piling up are a signal); then each request is judged on the
counts up to and including itself, in the batch's order, so a batch is judged as if its
requests had come one by one. A step-up asks the :class:`StepUp`; a containment is written
and the security team notified before the batch's answers leave.

Fail closed: if the windows cannot be read (Redis lost), requests for plaintext or a
virtual number are denied ``guard_unavailable``; masks and denials are unaffected.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from parcelguard.reveal.facts import Facts, RevealRequest
from parcelguard.reveal.guard.config import GuardConfig
from parcelguard.reveal.guard.containments import Containment, Containments
from parcelguard.reveal.guard.counters import (
    Counts,
    GuardStateUnavailable,
    Run,
    WindowCounters,
    advance,
)
from parcelguard.reveal.guard.judge import CONTAIN, MASKED, STEP_UP, Signals, judge
from parcelguard.reveal.guard.notify import LogNotifier, Notifier
from parcelguard.reveal.guard.signals import far, fresh_targeted, serial_of
from parcelguard.reveal.guard.stepup import StepUp, WorkflowSupervisor, workflow_link

FOREIGN_REASONS = frozenset({"foreign_waybill", "malformed_waybill"})


@dataclass(frozen=True, slots=True)
class GuardItem:
    """One request as the guard sees it: its facts (if established) and what the policy said."""

    request: RevealRequest
    facts: Facts | None
    form: str | None  # the form the policy allows; None when denied
    deny_reason: str | None = None  # the policy's or the checks' reason when denied


@dataclass(frozen=True, slots=True)
class GuardOutcome:
    """What happens to one request: ``deny_reason`` set means it is refused with it."""

    action: str | None
    reasons: tuple[str, ...] = ()
    deny_reason: str | None = None
    form: str | None = None


@functools.lru_cache(maxsize=65_536)
def network_of(ip: str) -> str:
    """The /24 (IPv4) or /48 (IPv6) an address is in: a new one means a new place.

    Cached: the same few addresses come back all day, and parsing them was a twentieth of
    the guard's time per batch (py-spy on the reveal service, December 2026).
    """
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


class Guard:
    def __init__(
        self,
        counters: WindowCounters,
        containments: Containments,
        config: GuardConfig | None = None,
        step_up: StepUp | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.counters = counters
        self.containments = containments
        self.config = config or GuardConfig(windows=counters.windows)
        self.step_up = step_up or WorkflowSupervisor()
        self.notifier = notifier or LogNotifier()

    def review(
        self, items: Sequence[GuardItem], now: datetime
    ) -> tuple[list[GuardOutcome], list[Containment]]:
        """An outcome per item, and the containments this batch made (to be audited)."""
        stamp = int(now.timestamp())
        contained = {
            item.request.actor for item in items if item.facts is not None and item.facts.contained
        }
        signals = [self._signals(item, stamp) for item in items]
        serials, asked = self._serials(items, contained)
        try:
            fresh_networks = self._new_networks(items, stamp)
            increments = self._increments(items, signals, contained)
            before = self.counters.record(increments, asked, stamp)
        except GuardStateUnavailable:
            return [self._unavailable(item) for item in items], []
        running: dict[str, Counts] = {
            actor: dict(counts) for actor, counts in before.counts.items()
        }
        runs: dict[str, Run | None] = dict(before.runs)
        outcomes: list[GuardOutcome] = []
        made: list[Containment] = []
        for item, observed, new_network, serial in zip(
            items, signals, fresh_networks, serials, strict=True
        ):
            actor = item.request.actor
            if serial is not None and actor not in contained:
                runs[actor] = advance(runs.get(actor), serial, stamp)
            if actor in contained:
                outcomes.append(GuardOutcome(CONTAIN, (), "guard_contained"))
                continue
            if observed is None:  # nothing established about this request: not the guard's
                outcomes.append(GuardOutcome(None))
                continue
            run = runs.get(actor)
            signal = replace(
                observed,
                new_network=new_network,
                run=run.length if serial is not None and run is not None else 0,
            )
            counts = running.setdefault(actor, {})
            for kind in signal.kinds():
                values = counts.get(kind, (0,) * len(self.config.windows))
                counts[kind] = tuple(v + 1 for v in values)
            verdict = judge(signal, counts, self.config)
            if verdict.action == CONTAIN:
                containment, new = self.containments.contain(actor, verdict.reasons, now)
                contained.add(actor)
                if new:
                    made.append(containment)
                    self.notifier.notify(containment)
                outcomes.append(GuardOutcome(CONTAIN, verdict.reasons, "guard_contained"))
            elif item.form is None:  # denied by the policy: counted, nothing to hand out
                outcomes.append(GuardOutcome(None))
            elif verdict.action == STEP_UP:
                assert item.facts is not None
                answer = self.step_up.approve(item.request, item.facts, verdict.reasons)
                refused = None if answer.approved else "guard_step_up_refused"
                outcomes.append(GuardOutcome(STEP_UP, verdict.reasons, refused))
            elif verdict.action == MASKED:
                outcomes.append(GuardOutcome(MASKED, verdict.reasons, form="masked"))
            else:
                outcomes.append(GuardOutcome(verdict.action, verdict.reasons))
        return outcomes, made

    def _signals(self, item: GuardItem, now: int) -> Signals | None:
        facts = item.facts
        foreign = item.deny_reason in FOREIGN_REASONS
        if facts is None and not foreign:
            return None
        sensitive = item.form in ("plaintext", "virtual_number")
        fresh = self.config.fresh_hours * 3_600
        return Signals(
            role=facts.role if facts else "",
            site_kind=facts.site_kind if facts else "",
            sensitive=sensitive,
            plaintext=item.form == "plaintext",
            linked=workflow_link(facts) if facts else False,
            denied=item.form is None,
            foreign=foreign,
            new_network=False,
            remote=far(facts) if facts else False,
            fresh_targeted=fresh_targeted(facts, now, fresh) if facts else False,
        )

    @staticmethod
    def _serials(
        items: Sequence[GuardItem], contained: set[str]
    ) -> tuple[list[int | None], dict[str, list[int]]]:
        """Each item's waybill serial (None when not followed), and per actor in batch order.

        Only our own waybills (facts established) are followed: a sheet's order is in the
        numbers the carrier issued; other carriers' numbers have their own signal.
        """
        serials = [
            serial_of(item.request.waybill_no)
            if item.facts is not None and item.request.actor not in contained
            else None
            for item in items
        ]
        asked: dict[str, list[int]] = {}
        for item, serial in zip(items, serials, strict=True):
            if serial is not None:
                asked.setdefault(item.request.actor, []).append(serial)
        return serials, asked

    def _increments(
        self,
        items: Sequence[GuardItem],
        signals: Sequence[Signals | None],
        contained: set[str],
    ) -> dict[str, dict[str, int]]:
        increments: dict[str, dict[str, int]] = {}
        for item, signal in zip(items, signals, strict=True):
            actor = item.request.actor
            if signal is None or actor in contained:
                continue
            mine = increments.setdefault(actor, {})
            for kind, n in signal.kinds().items():
                mine[kind] = mine.get(kind, 0) + n
        return {actor: kinds for actor, kinds in increments.items() if kinds}

    def _new_networks(self, items: Sequence[GuardItem], stamp: int) -> list[bool]:
        """A network the account has not used before, once it has used another one.

        The first network an account is seen on is its home, not a surprise; without that
        rule every employee's first reveal after the guard is switched on would step up.
        """
        pairs: list[tuple[str, str]] = []
        where: list[int | None] = []
        for item in items:
            network = network_of(item.request.ip) if item.form is not None else ""
            if not network:
                where.append(None)
                continue
            where.append(len(pairs))
            pairs += [(item.request.actor, "net:any"), (item.request.actor, f"net:{network}")]
        seen = self.counters.first_seen(pairs, stamp) if pairs else []
        return [False if at is None else (not seen[at]) and seen[at + 1] for at in where]

    @staticmethod
    def _unavailable(item: GuardItem) -> GuardOutcome:
        if item.form in ("plaintext", "virtual_number"):
            return GuardOutcome(None, ("guard_state_unavailable",), "guard_unavailable")
        return GuardOutcome(None)
