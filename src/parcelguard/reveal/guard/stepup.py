"""Step-up: the guard asks for more than a token before it hands a value out.

An interface, because a carrier has its own means (a push to the supervisor's app, a
re-login with a second factor). The in-process one models the supervisor the carrier
already has: she approves a request her staff's work explains (an assignment, a ticket, an
exception at the station, a parcel on site, an investigation case) and refuses one it does
not, so a step-up costs honest work a moment and stops a harvest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from parcelguard.reveal.facts import Facts, RevealRequest


@dataclass(frozen=True, slots=True)
class StepUpResult:
    approved: bool
    by: str
    reason: str


class StepUp(Protocol):
    def approve(
        self, request: RevealRequest, facts: Facts, reasons: Sequence[str]
    ) -> StepUpResult: ...


def workflow_link(facts: Facts) -> bool:
    """Whether the carrier's own records explain this employee touching this waybill."""
    return (
        facts.assigned
        or facts.ticket_assigned_to_actor
        or facts.open_exception_at_actor_site
        or (bool(facts.current_site) and facts.current_site == facts.site)
        or (facts.case_open and facts.case_justified and facts.case_approved_by_other)
    )


class WorkflowSupervisor:
    """Approves what the workflow explains, refuses the rest, unless the account is new to
    its network and nothing explains the request either."""

    def approve(self, request: RevealRequest, facts: Facts, reasons: Sequence[str]) -> StepUpResult:
        if workflow_link(facts):
            return StepUpResult(True, "supervisor", "explained_by_workflow")
        return StepUpResult(False, "supervisor", "not_explained_by_workflow")


class RefuseAll:
    """For a site without anyone to approve: every step-up is refused."""

    def approve(self, request: RevealRequest, facts: Facts, reasons: Sequence[str]) -> StepUpResult:
        return StepUpResult(False, "nobody", "no_approver")
