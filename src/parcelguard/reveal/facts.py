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
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from parcelguard.core.clock import carrier_day
from parcelguard.events.schema import ROLES
from parcelguard.storage.bulk import datetime_stamp, rows_by_keys

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
    contained: bool = False
    """The online guard has suspended this account from personal-data access (read with
    the employee's row, so checking it costs the guard no query of its own)."""
    site_kind: str = ""
    """The kind of the actor's site (station, warehouse, hub, cs_center, office): with the
    role it names the guard's peer group, since a hub clerk's day is not a station clerk's."""
    site_adcode: str = ""
    """The actor's site's administrative division, for the guard's distance signal."""
    dest_adcode: str = ""
    """Where the parcel goes (the recipient's division)."""
    where_adcode: str = ""
    """Where the parcel is: its current site's division, else its origin site's."""
    category: str = ""
    """The sender's category: buyers of leaked records want health, medicine, collectibles."""

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


def _epoch_sql(conn: sa.Connection) -> str:
    """SQL turning a stored UTC time column ``{c}`` into whole seconds since the epoch.

    Done by the database because parsing tens of thousands of timestamps a second in Python
    cost a quarter of the facts' time (measured: bench/reveal.py).
    """
    if conn.dialect.name == "sqlite":
        return "CAST(strftime('%s', {c}) AS INTEGER)"
    return "CAST(EXTRACT(EPOCH FROM {c}) AS BIGINT)"


def _moment(value: object) -> int:
    """Seconds since the epoch of a stored UTC time (SQLite text or a driver datetime)."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


def _day(value: object) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def gather_many(
    conn: sa.Connection, requests: Sequence[RevealRequest], now: datetime
) -> list[Facts | Unestablished]:
    """The facts for a batch of requests: eight indexed queries per batch, not per request.

    Why batched: the service decides thousands of reveals a second (the live simulation, a
    busy API), and a round of lookups per request cost more than Cedar's decision.
    """
    at = datetime_stamp(conn)(now)
    epoch = _epoch_sql(conn).format
    actors = {r.actor for r in requests}
    numbers = {r.waybill_no for r in requests}
    people = {
        row[0]: row
        for row in rows_by_keys(
            conn,
            "SELECT e.employee_id, e.role, e.site_id, e.left_on, EXISTS (SELECT 1 FROM "
            "guard_containments g WHERE g.employee_id = e.employee_id AND g.released_at IS NULL), "
            "s.kind, s.adcode, e.hired_on FROM employees e LEFT JOIN sites s ON s.site_id = e.site_id "
            "WHERE e.employee_id IN ({keys})",
            actors,
        )
    }
    parcels = {
        row[0]: row
        for row in rows_by_keys(
            conn,
            f"SELECT w.waybill_no, w.dest_site_id, {epoch(c='w.created_at')}, w.shredded_at, "  # noqa: S608 (column names only)
            "w.dest_adcode, w.category, o.adcode FROM waybills w "
            "LEFT JOIN sites o ON o.site_id = w.origin_site_id WHERE w.waybill_no IN ({keys})",
            numbers,
        )
    }
    registered = {
        (row[0], row[1]): str(row[2])
        for row in rows_by_keys(
            conn,
            "SELECT device_id, employee_id, kind FROM devices WHERE employee_id IN ({keys}) "
            "AND registered_at <= {m} AND (revoked_at IS NULL OR revoked_at > {m})",
            actors,
            at,
            at,
        )
    }
    statuses = {
        row[0]: row
        for row in rows_by_keys(
            conn,
            f"SELECT p.waybill_no, p.current_site_id, {epoch(c='p.dispatched_at')}, "  # noqa: S608
            f"{epoch(c='p.delivered_at')}, s.adcode FROM parcel_status p "
            f"LEFT JOIN sites s ON s.site_id = p.current_site_id WHERE p.waybill_no IN ({{keys}})",
            numbers,
        )
    }
    assigned: dict[tuple[str, str], tuple[int, int]] = {}
    for waybill_no, courier, start_at, until in rows_by_keys(
        conn,
        f"SELECT waybill_no, courier_id, {epoch(c='assigned_at')}, {epoch(c='until')} "  # noqa: S608
        "FROM assignments WHERE waybill_no IN ({keys})",
        numbers,
    ):
        key, span = (waybill_no, courier), (_moment(start_at), _moment(until))
        if key not in assigned or span[0] > assigned[key][0]:
            assigned[key] = span  # the latest assignment of this waybill to this courier
    open_exceptions = {
        (row[0], row[1])
        for row in rows_by_keys(
            conn,
            "SELECT waybill_no, site_id FROM parcel_exceptions WHERE waybill_no IN ({keys}) "
            "AND opened_at <= {m} AND (closed_at IS NULL OR closed_at > {m})",
            numbers,
            at,
            at,
        )
    }
    open_tickets = {
        (row[0], row[1])
        for row in rows_by_keys(
            conn,
            "SELECT waybill_no, agent_id FROM tickets WHERE waybill_no IN ({keys}) "
            "AND opened_at <= {m} AND (closed_at IS NULL OR closed_at > {m})",
            numbers,
            at,
            at,
        )
    }
    case_ids = {r.case_id for r in requests if r.case_id}
    cases = {
        (row[0], row[1]): row
        for row in (
            rows_by_keys(
                conn,
                "SELECT c.case_id, w.waybill_no, c.opened_by, c.approved_by, c.justification, "
                "c.closed_at FROM investigation_cases c JOIN case_waybills w "
                "ON w.case_id = c.case_id WHERE c.case_id IN ({keys}) AND c.opened_at <= {m}",
                case_ids,
                at,
            )
            if case_ids
            else []
        )
    }
    now_s = int(now.timestamp())
    today = carrier_day(now)  # employment dates are the carrier's (Beijing) calendar days
    result: list[Facts | Unestablished] = []
    for request in requests:
        actor = people.get(request.actor)
        waybill = parcels.get(request.waybill_no)
        if actor is None:
            result.append(Unestablished("unknown_actor"))
        elif actor[1] not in ROLES:
            result.append(Unestablished("unknown_role"))
        elif waybill is None:
            result.append(Unestablished("unknown_waybill"))
        elif waybill[3] is not None:
            result.append(Unestablished("waybill_shredded"))
        else:
            status = statuses.get(request.waybill_no)
            held = assigned.get((request.waybill_no, request.actor))
            case = cases.get((request.case_id, request.waybill_no)) if request.case_id else None
            device_kind = registered.get((request.device_id, request.actor))
            left_on, hired_on = _day(actor[3]), _day(actor[7])
            result.append(
                Facts(
                    role=actor[1],
                    site=actor[2],
                    active=(left_on is None or left_on >= today)
                    and (hired_on is None or hired_on <= today),
                    device_registered=device_kind is not None,
                    device_kind=device_kind or "",
                    dest_site=waybill[1],
                    current_site=(status[1] or "") if status is not None else "",
                    created_at=_moment(waybill[2]),
                    assigned=held is not None,
                    assigned_from=0 if held is None else held[0],
                    assigned_until=0 if held is None else held[1],
                    dispatched_at=0 if status is None else _moment(status[2]),
                    delivered_at=0 if status is None else _moment(status[3]),
                    open_exception_at_actor_site=(request.waybill_no, actor[2]) in open_exceptions,
                    ticket_assigned_to_actor=(request.waybill_no, request.actor) in open_tickets,
                    case_open=case is not None
                    and case[2] == request.actor
                    and (case[5] is None or _moment(case[5]) > now_s),
                    case_justified=case is not None
                    and len(str(case[4]).strip()) >= MIN_JUSTIFICATION,
                    case_approved_by_other=case is not None
                    and case[3] is not None
                    and case[3] != request.actor,
                    contained=bool(actor[4]),
                    site_kind=actor[5] or "",
                    site_adcode=actor[6] or "",
                    dest_adcode=waybill[4] or "",
                    where_adcode=(status[4] if status is not None else None) or waybill[6] or "",
                    category=waybill[5] or "",
                )
            )
    return result
