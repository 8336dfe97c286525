"""The workflow facts a reveal is decided on, read from the store for one request.

Why facts and not roles: in the case, a clerk's role let her look up any waybill in the
country. Here the policies see what the carrier's own workflow says about this employee and
this parcel right now: is it assigned to him, is it at her station with an open exception, is
it on her ticket, is it in her warehouse, is there an approved investigation case naming it.
Facts that cannot be established (unknown employee, unknown or shredded waybill) are answered
before Cedar, each with its own reason.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    """The facts for one request; see :func:`gather_many`."""
    return gather_many(conn, [request], now)[0]


_CHUNK = 500  # keys per IN list: well under every backend's parameter limit


def _by_key(
    conn: sa.Connection, query: sa.Select[Any], column: sa.ColumnElement[Any], keys: set[str]
) -> list[sa.Row[Any]]:
    ordered = sorted(keys)
    rows: list[sa.Row[Any]] = []
    for start in range(0, len(ordered), _CHUNK):
        rows.extend(conn.execute(query.where(column.in_(ordered[start : start + _CHUNK]))))
    return rows


def gather_many(
    conn: sa.Connection, requests: Sequence[RevealRequest], now: datetime
) -> list[Facts | Unestablished]:
    """The facts for a batch of requests: eight indexed queries per batch, not per request.

    Why batched: the service decides thousands of reveals a second (the live simulation, a
    busy API), and a round of lookups per request cost more than Cedar's decision.
    """
    actors = {r.actor for r in requests}
    numbers = {r.waybill_no for r in requests}
    people = {
        row.employee_id: row
        for row in _by_key(
            conn,
            sa.select(
                employees.c.employee_id, employees.c.role, employees.c.site_id, employees.c.left_on
            ),
            employees.c.employee_id,
            actors,
        )
    }
    parcels = {
        row.waybill_no: row
        for row in _by_key(
            conn,
            sa.select(
                waybills.c.waybill_no,
                waybills.c.dest_site_id,
                waybills.c.created_at,
                waybills.c.shredded_at,
            ),
            waybills.c.waybill_no,
            numbers,
        )
    }
    registered = {
        (row.device_id, row.employee_id): str(row.kind)
        for row in _by_key(
            conn,
            sa.select(devices.c.device_id, devices.c.employee_id, devices.c.kind).where(
                devices.c.registered_at <= now,
                sa.or_(devices.c.revoked_at.is_(None), devices.c.revoked_at > now),
            ),
            devices.c.employee_id,
            actors,
        )
    }
    statuses = {
        row.waybill_no: row
        for row in _by_key(conn, sa.select(parcel_status), parcel_status.c.waybill_no, numbers)
    }
    assigned: dict[tuple[str, str], sa.Row[Any]] = {}
    for row in _by_key(
        conn,
        sa.select(
            assignments.c.waybill_no,
            assignments.c.courier_id,
            assignments.c.assigned_at,
            assignments.c.until,
        ),
        assignments.c.waybill_no,
        numbers,
    ):
        key = (row.waybill_no, row.courier_id)
        if key not in assigned or row.assigned_at > assigned[key].assigned_at:
            assigned[key] = row  # the latest assignment of this waybill to this courier
    open_exceptions = {
        (row.waybill_no, row.site_id)
        for row in _by_key(
            conn,
            sa.select(parcel_exceptions.c.waybill_no, parcel_exceptions.c.site_id).where(
                parcel_exceptions.c.opened_at <= now,
                sa.or_(
                    parcel_exceptions.c.closed_at.is_(None), parcel_exceptions.c.closed_at > now
                ),
            ),
            parcel_exceptions.c.waybill_no,
            numbers,
        )
    }
    open_tickets = {
        (row.waybill_no, row.agent_id)
        for row in _by_key(
            conn,
            sa.select(tickets.c.waybill_no, tickets.c.agent_id).where(
                tickets.c.opened_at <= now,
                sa.or_(tickets.c.closed_at.is_(None), tickets.c.closed_at > now),
            ),
            tickets.c.waybill_no,
            numbers,
        )
    }
    case_ids = {r.case_id for r in requests if r.case_id}
    cases = {
        (row.case_id, row.waybill_no): row
        for row in (
            _by_key(
                conn,
                sa.select(
                    investigation_cases.c.case_id,
                    case_waybills.c.waybill_no,
                    investigation_cases.c.opened_by,
                    investigation_cases.c.approved_by,
                    investigation_cases.c.justification,
                    investigation_cases.c.closed_at,
                )
                .join(case_waybills, case_waybills.c.case_id == investigation_cases.c.case_id)
                .where(investigation_cases.c.opened_at <= now),
                investigation_cases.c.case_id,
                case_ids,
            )
            if case_ids
            else []
        )
    }
    result: list[Facts | Unestablished] = []
    for request in requests:
        actor = people.get(request.actor)
        waybill = parcels.get(request.waybill_no)
        if actor is None:
            result.append(Unestablished("unknown_actor"))
        elif actor.role not in ROLES:
            result.append(Unestablished("unknown_role"))
        elif waybill is None:
            result.append(Unestablished("unknown_waybill"))
        elif waybill.shredded_at is not None:
            result.append(Unestablished("waybill_shredded"))
        else:
            status = statuses.get(request.waybill_no)
            assignment = assigned.get((request.waybill_no, request.actor))
            case = cases.get((request.case_id, request.waybill_no)) if request.case_id else None
            device_kind = registered.get((request.device_id, request.actor))
            result.append(
                Facts(
                    role=actor.role,
                    site=actor.site_id,
                    active=actor.left_on is None or actor.left_on >= now.date(),
                    device_registered=device_kind is not None,
                    device_kind=device_kind or "",
                    dest_site=waybill.dest_site_id,
                    current_site=(status.current_site_id or "") if status is not None else "",
                    created_at=_seconds(waybill.created_at),
                    assigned=assignment is not None,
                    assigned_from=0 if assignment is None else _seconds(assignment.assigned_at),
                    assigned_until=0 if assignment is None else _seconds(assignment.until),
                    dispatched_at=0 if status is None else _seconds(status.dispatched_at),
                    delivered_at=0 if status is None else _seconds(status.delivered_at),
                    open_exception_at_actor_site=(request.waybill_no, actor.site_id)
                    in open_exceptions,
                    ticket_assigned_to_actor=(request.waybill_no, request.actor) in open_tickets,
                    case_open=case is not None
                    and case.opened_by == request.actor
                    and (case.closed_at is None or case.closed_at > now),
                    case_justified=case is not None
                    and len(case.justification.strip()) >= MIN_JUSTIFICATION,
                    case_approved_by_other=case is not None
                    and case.approved_by is not None
                    and case.approved_by != request.actor,
                )
            )
    return result
