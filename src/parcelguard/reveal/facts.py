"""The workflow facts a reveal is decided on, read from the store for one request.

Why facts and not roles: in the case, a clerk's role let her look up any waybill in the
country. Here the policies see what the carrier's own workflow says about this employee and
this parcel right now: is it assigned to him, is it at her station with an open exception, is
it on her ticket, is it in her warehouse, is there an approved investigation case naming it.
Facts that cannot be established (unknown employee, unknown or shredded waybill) are answered
before Cedar, each with its own reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from parcelguard.events.schema import ROLES
from parcelguard.storage.schema import (
    assignments,
    case_waybills,
    devices,
    employees,
    investigation_cases,
    parcel_exceptions,
    parcel_status,
    tickets,
    waybills,
)

MIN_JUSTIFICATION = 20
"""Characters a break-glass justification needs: a sentence, not "x"."""


@dataclass(frozen=True, slots=True)
class RevealRequest:
    actor: str
    waybill_no: str
    field: str
    purpose: str
    device_id: str = ""
    channel: str = "handheld"
    ip: str = ""
    request_id: str = ""
    case_id: str = ""


@dataclass(frozen=True, slots=True)
class Facts:
    """What the store says; :meth:`cedar` turns it into Cedar entities and context."""

    role: str
    site: str
    active: bool
    device_registered: bool
    device_kind: str
    dest_site: str
    current_site: str
    created_at: int
    assigned: bool
    assigned_from: int
    assigned_until: int
    dispatched_at: int
    delivered_at: int
    open_exception_at_actor_site: bool
    ticket_assigned_to_actor: bool
    case_open: bool
    case_justified: bool
    case_approved_by_other: bool

    def principal_attrs(self) -> dict[str, Any]:
        return {"role": self.role, "site": self.site, "active": self.active}

    def resource_attrs(self) -> dict[str, Any]:
        return {
            "dest_site": self.dest_site,
            "current_site": self.current_site,
            "created_at": self.created_at,
        }

    def context(self, request: RevealRequest, now: int) -> dict[str, Any]:
        return {
            "field": request.field,
            "purpose": request.purpose,
            "channel": request.channel,
            "now": now,
            "device_registered": self.device_registered,
            "device_kind": self.device_kind,
            "assignment": {
                "assigned": self.assigned,
                "from": self.assigned_from,
                "until": self.assigned_until,
            },
            "dispatched_at": self.dispatched_at,
            "delivered_at": self.delivered_at,
            "at_actor_site": bool(self.current_site) and self.current_site == self.site,
            "open_exception_at_actor_site": self.open_exception_at_actor_site,
            "ticket_assigned_to_actor": self.ticket_assigned_to_actor,
            "case": {
                "open": self.case_open,
                "justified": self.case_justified,
                "approved_by_other": self.case_approved_by_other,
            },
        }


@dataclass(frozen=True, slots=True)
class Unestablished:
    """A request decided before Cedar: the facts it needs do not exist."""

    reason: str


def _seconds(moment: datetime | None) -> int:
    return 0 if moment is None else int(moment.timestamp())


def gather(conn: sa.Connection, request: RevealRequest, now: datetime) -> Facts | Unestablished:
    """Read the facts for one request (a handful of primary-key and indexed lookups)."""
    actor = conn.execute(
        sa.select(employees.c.role, employees.c.site_id, employees.c.left_on).where(
            employees.c.employee_id == request.actor
        )
    ).first()
    if actor is None:
        return Unestablished("unknown_actor")
    if actor.role not in ROLES:
        return Unestablished("unknown_role")
    waybill = conn.execute(
        sa.select(waybills.c.dest_site_id, waybills.c.created_at, waybills.c.shredded_at).where(
            waybills.c.waybill_no == request.waybill_no
        )
    ).first()
    if waybill is None:
        return Unestablished("unknown_waybill")
    if waybill.shredded_at is not None:
        return Unestablished("waybill_shredded")
    device = conn.execute(
        sa.select(devices.c.kind).where(
            devices.c.device_id == request.device_id,
            devices.c.employee_id == request.actor,
            devices.c.registered_at <= now,
            sa.or_(devices.c.revoked_at.is_(None), devices.c.revoked_at > now),
        )
    ).first()
    status = conn.execute(
        sa.select(
            parcel_status.c.current_site_id,
            parcel_status.c.dispatched_at,
            parcel_status.c.delivered_at,
        ).where(parcel_status.c.waybill_no == request.waybill_no)
    ).first()
    assignment = conn.execute(
        sa.select(assignments.c.assigned_at, assignments.c.until)
        .where(
            assignments.c.waybill_no == request.waybill_no,
            assignments.c.courier_id == request.actor,
        )
        .order_by(assignments.c.assigned_at.desc())
        .limit(1)
    ).first()
    exception = conn.execute(
        sa.select(sa.literal(1)).where(
            parcel_exceptions.c.waybill_no == request.waybill_no,
            parcel_exceptions.c.site_id == actor.site_id,
            parcel_exceptions.c.opened_at <= now,
            sa.or_(parcel_exceptions.c.closed_at.is_(None), parcel_exceptions.c.closed_at > now),
        )
    ).first()
    ticket = conn.execute(
        sa.select(sa.literal(1)).where(
            tickets.c.waybill_no == request.waybill_no,
            tickets.c.agent_id == request.actor,
            tickets.c.opened_at <= now,
            sa.or_(tickets.c.closed_at.is_(None), tickets.c.closed_at > now),
        )
    ).first()
    case = None
    if request.case_id:
        case = conn.execute(
            sa.select(
                investigation_cases.c.opened_by,
                investigation_cases.c.approved_by,
                investigation_cases.c.justification,
                investigation_cases.c.closed_at,
            )
            .join(case_waybills, case_waybills.c.case_id == investigation_cases.c.case_id)
            .where(
                investigation_cases.c.case_id == request.case_id,
                case_waybills.c.waybill_no == request.waybill_no,
                investigation_cases.c.opened_at <= now,
            )
        ).first()
    left_on = actor.left_on
    return Facts(
        role=actor.role,
        site=actor.site_id,
        active=left_on is None or left_on >= now.date(),
        device_registered=device is not None,
        device_kind="" if device is None else str(device.kind),
        dest_site=waybill.dest_site_id,
        current_site=""
        if status is None or status.current_site_id is None
        else status.current_site_id,
        created_at=_seconds(waybill.created_at),
        assigned=assignment is not None,
        assigned_from=0 if assignment is None else _seconds(assignment.assigned_at),
        assigned_until=0 if assignment is None else _seconds(assignment.until),
        dispatched_at=0 if status is None else _seconds(status.dispatched_at),
        delivered_at=0 if status is None else _seconds(status.delivered_at),
        open_exception_at_actor_site=exception is not None,
        ticket_assigned_to_actor=ticket is not None,
        case_open=case is not None
        and case.opened_by == request.actor
        and (case.closed_at is None or case.closed_at > now),
        case_justified=case is not None and len(case.justification.strip()) >= MIN_JUSTIFICATION,
        case_approved_by_other=case is not None
        and case.approved_by is not None
        and case.approved_by != request.actor,
    )
