"""What a live simulation measured: records leaked per insider, friction on honest staff.

Why pure functions over small records: the figures are the product's claim ("the guard stops
the Jingzhou revealer after N records, and costs honest staff this much"), so the rules that
make them must be readable, testable on hand-built decisions, and free of the store. Nothing
here holds a plaintext value: :class:`Outcome` keeps what the door decided, never what it
handed out, so a report can be printed, logged or attached to a ticket.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from parcelguard.core.clock import CARRIER_TZ
from parcelguard.reveal.facts import RevealRequest
from parcelguard.reveal.service import RevealDecision

CONTAINED_REASON = "guard_contained"


@dataclass(frozen=True, slots=True)
class Outcome:
    """One decided request as the metrics see it: ids, field, form and the guard's action."""

    waybill_no: str
    field: str
    allowed: bool
    form: str | None
    guard_action: str | None
    reason: str
    planned_at: datetime
    """When the employee meant to make the request (the world's access time)."""
    decided_at: datetime
    """The service's clock when it decided (the end of the request's slice)."""

    @classmethod
    def of(
        cls,
        request: RevealRequest,
        decision: RevealDecision,
        planned_at: datetime,
        decided_at: datetime,
    ) -> Outcome:
        return cls(
            request.waybill_no,
            request.field,
            decision.allowed,
            decision.form,
            decision.guard_action,
            decision.reason,
            planned_at,
            decided_at,
        )

    @property
    def plaintext(self) -> bool:
        return self.allowed and self.form == "plaintext"

    @property
    def contains(self) -> bool:
        """This decision suspended the account, or found it already suspended."""
        return self.guard_action == "contain" or self.reason == CONTAINED_REASON


def leaked_waybills(outcomes: Iterable[Outcome]) -> set[str]:
    """Waybills whose recipient the requester could now reach or find without us.

    A record leaks when the real phone number arrives in plaintext, or when both the full name
    and the full address of the same waybill do (a name and an address find a door). A virtual
    number routes only from the requester's own device and a mask identifies nobody, so
    neither counts; a name alone or an address alone does not either.
    """
    names: set[str] = set()
    addresses: set[str] = set()
    leaked: set[str] = set()
    for outcome in outcomes:
        if not outcome.plaintext:
            continue
        if outcome.field == "phone":
            leaked.add(outcome.waybill_no)
        elif outcome.field == "name":
            names.add(outcome.waybill_no)
        elif outcome.field == "address":
            addresses.add(outcome.waybill_no)
    return leaked | (names & addresses)


def count_records(outcomes: Iterable[Outcome]) -> int:
    return len(leaked_waybills(outcomes))


def first_containment(outcomes: Iterable[Outcome]) -> datetime | None:
    return min((o.decided_at for o in outcomes if o.contains), default=None)


@dataclass(frozen=True, slots=True)
class InsiderFigures:
    employee_id: str
    scenario: str
    role: str
    first_malicious_at: datetime
    planned: int
    """Malicious requests the insider's script held (exports count one per field)."""
    requests: int
    """Malicious requests actually sent, retries included."""
    denied: int
    denied_by_reason: dict[str, int]
    records_obtained: int
    records_before_containment: int
    contained_at: datetime | None
    asked: tuple[str, ...] = field(default=(), repr=False)
    """The waybill numbers the insider sent, in order (for linking them to who holds them);
    kept out of :meth:`as_dict`, which stays a summary."""

    @property
    def minutes_to_containment(self) -> float | None:
        if self.contained_at is None:
            return None
        return round((self.contained_at - self.first_malicious_at).total_seconds() / 60, 1)

    def as_dict(self) -> dict[str, object]:
        return {
            "employee_id": self.employee_id,
            "scenario": self.scenario,
            "role": self.role,
            "planned": self.planned,
            "requests": self.requests,
            "denied": self.denied,
            "denied_by_reason": self.denied_by_reason,
            "records_obtained": self.records_obtained,
            "records_before_containment": self.records_before_containment,
            "first_malicious_at": _local(self.first_malicious_at),
            "contained_at": None if self.contained_at is None else _local(self.contained_at),
            "minutes_to_containment": self.minutes_to_containment,
        }


def _local(moment: datetime) -> str:
    """Carrier time, as the world's own tables and the people reading the report use."""
    return moment.astimezone(CARRIER_TZ).isoformat(timespec="seconds")


def insider_figures(
    employee_id: str,
    scenario: str,
    role: str,
    first_malicious_at: datetime,
    planned: int,
    outcomes: Sequence[Outcome],
    contained_at: datetime | None = None,
) -> InsiderFigures:
    """One insider's figures from the outcomes of their malicious requests.

    ``contained_at`` is for a suspension seen on a request outside the malicious window (the
    account's ordinary work); otherwise the first containment among ``outcomes`` counts.
    """
    seen = first_containment(outcomes)
    if seen is not None and (contained_at is None or seen < contained_at):
        contained_at = seen
    before = (
        outcomes if contained_at is None else [o for o in outcomes if o.decided_at <= contained_at]
    )
    return InsiderFigures(
        employee_id=employee_id,
        scenario=scenario,
        role=role,
        first_malicious_at=first_malicious_at,
        planned=planned,
        requests=len(outcomes),
        denied=sum(not o.allowed for o in outcomes),
        denied_by_reason=dict(Counter(o.reason for o in outcomes if not o.allowed).most_common()),
        records_obtained=count_records(outcomes),
        records_before_containment=count_records(before),
        contained_at=contained_at,
        asked=tuple(o.waybill_no for o in outcomes),
    )


@dataclass(slots=True)
class HonestTally:
    """Honest reveal requests by what the door did; every request falls in one bucket."""

    allowed: int = 0
    """Allowed as the policy said: no step-up, no mask put in place of the value."""
    denied: int = 0
    stepped_up: int = 0
    masked: int = 0
    contained: set[str] = field(default_factory=set)
    denied_by_reason: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return self.allowed + self.denied + self.stepped_up + self.masked

    def add(self, actor: str, decision: RevealDecision) -> None:
        action = decision.guard_action
        if action == "step_up":
            self.stepped_up += 1
        elif action == "masked":
            self.masked += 1
        elif decision.allowed and action in (None, "allow"):
            self.allowed += 1
        else:
            self.denied += 1
            self.denied_by_reason[decision.reason] += 1
        if action == "contain" or decision.reason == CONTAINED_REASON:
            self.contained.add(actor)

    def as_dict(self, employee_days: int) -> dict[str, object]:
        total = max(self.total, 1)
        return {
            "legit_reveals": self.total,
            "legit_allowed_share": round(self.allowed / total, 4),
            "legit_denied_share": round(self.denied / total, 4),
            "legit_denied_by_reason": dict(self.denied_by_reason.most_common()),
            "legit_stepped_up_share": round(self.stepped_up / total, 4),
            "legit_masked_share": round(self.masked / total, 4),
            "honest_contained": len(self.contained),
            "employee_days": employee_days,
            "honest_contained_per_10k_employee_days": round(
                len(self.contained) * 10_000 / max(employee_days, 1), 3
            ),
        }


@dataclass(slots=True)
class LiveReport:
    regime: str
    seed: int
    days: int
    employees: int
    waybills: int
    scenarios: list[str]
    batch_seconds: int
    insiders: list[InsiderFigures]
    honest: HonestTally
    decisions: int
    batches: int
    setup_seconds: float
    replay_seconds: float
    wall_seconds: float
    vnum_demo: dict[str, object] | None
    scratch: str = ""
    """Where the scratch store lived: ``memory`` (/dev/shm) or ``disk``."""
    scratch_mib: float = 0.0
    """The scratch store's size at the end of the replay."""
    containments: list[dict[str, object]] = field(default_factory=list)
    """Every containment the guard made, with its alert id and signals (the security team's
    alerts; the scratch store is gone when the run returns)."""

    @property
    def employee_days(self) -> int:
        return self.employees * self.days

    @property
    def decisions_per_second(self) -> float:
        return round(self.decisions / max(self.replay_seconds, 1e-9), 1)

    def as_dict(self) -> dict[str, object]:
        return {
            "regime": self.regime,
            "seed": self.seed,
            "days": self.days,
            "employees": self.employees,
            "waybills": self.waybills,
            "scenarios": self.scenarios,
            "batch_seconds": self.batch_seconds,
            "insiders": [figures.as_dict() for figures in self.insiders],
            "records_obtained": sum(f.records_obtained for f in self.insiders),
            **self.honest.as_dict(self.employee_days),
            "decisions": self.decisions,
            "batches": self.batches,
            "setup_seconds": round(self.setup_seconds, 2),
            "replay_seconds": round(self.replay_seconds, 2),
            "wall_seconds": round(self.wall_seconds, 2),
            "decisions_per_second": self.decisions_per_second,
            "vnum_demo": self.vnum_demo,
            "scratch": self.scratch,
            "scratch_mib": round(self.scratch_mib, 1),
            "containments": self.containments,
        }


__all__ = [
    "HonestTally",
    "InsiderFigures",
    "LiveReport",
    "Outcome",
    "count_records",
    "first_containment",
    "insider_figures",
    "leaked_waybills",
]
