"""Containing an account and lifting it are acts the audit log records, like reveals.

The entry's actor is the account acted on (so its timeline shows it), ``policy_id`` names who
acted (``by:guard`` or ``by:<person>``), ``request_id`` the alert id, ``reason`` the signals.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from parcelguard.audit.entry import AuditEntry
from parcelguard.reveal.guard.containments import Containment, Containments


def containment_entry(containment: Containment, now: datetime) -> AuditEntry:
    return AuditEntry.at(
        0,
        now,
        actor=containment.employee_id,
        action="contain",
        waybill_no="",
        field="",
        purpose="security",
        decision="deny",
        reason="+".join(containment.reasons) or "contained",
        policy_id=f"by:{containment.contained_by}",
        request_id=containment.alert_id,
        channel="",
        device="",
        ip="",
    )


def release_entry(containment: Containment, now: datetime) -> AuditEntry:
    return AuditEntry.at(
        0,
        now,
        actor=containment.employee_id,
        action="release",
        waybill_no="",
        field="",
        purpose="security",
        decision="allow",
        reason="containment_lifted",
        policy_id=f"by:{containment.released_by}",
        request_id=containment.alert_id,
        channel="",
        device="",
        ip="",
    )


def lift(
    containments: Containments,
    append: Callable[[Sequence[AuditEntry]], Sequence[int]],
    employee_id: str,
    by: str,
    reason: str,
    now: datetime,
) -> tuple[Containment, int]:
    """Lift a containment and record who did it: (the containment, its audit index).

    The lifting is written first, then audited; if the audit append fails the error
    propagates and the operator sees it (the containment row says who lifted it either way).
    """
    done = containments.release(employee_id, by, reason, now)
    (index,) = append([release_entry(done, now)])
    return done, index
