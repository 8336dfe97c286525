"""The batch pipelines as Ibis expressions: written once, run on DuckDB or on Spark.

Why Ibis: a carrier whose logs fit one machine runs them embedded on DuckDB; one whose logs
do not runs the very same expressions on Spark. Nothing here executes anything: each
function takes Ibis tables and returns an expression, and :mod:`parcelguard.detect.engine`
runs it. The heavy work (joining tens of millions of accesses to their workflow) happens
here; what comes out is small, one row per account and day, for the pure detectors.

Times are integers (POSIX microseconds; dates as days since 1970-01-01) by the time they
reach these expressions: the loader converts them, so time-zone handling cannot differ
between engines, and "the carrier's day" is plain arithmetic on Beijing time (UTC+08:00).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

US = 1_000_000
MINUTE = 60 * US
HOUR = 60 * MINUTE
DAY = 24 * HOUR
LOCAL = 8 * HOUR
"""Beijing time is UTC+08:00 all year: the carrier's day starts at 16:00 UTC."""

SENSITIVE_CATEGORIES = ("health", "medicine", "collectibles")
"""What the buyers of the case paid for (DESIGN.md): health products, medicines, collectibles."""
FRESH = 2 * DAY
"""A record under two days old sold for up to 10 yuan; after three to five days it was nearly
worthless: a lookup of a parcel younger than this is what a seller wants."""
SHEET_GAP = 10 * MINUTE
"""A search or masked view of the same parcel this shortly before a reveal is someone working
a case; a reveal without one is a number typed (or pasted) from elsewhere."""
OFF_SHIFT = (7, 22)
"""Local hours [start, end) of the working day; a reveal outside is off shift."""


COLUMNS_USED: Mapping[str, tuple[str, ...]] = {
    "accesses": ("event_id", "ts", "employee_id", "action", "waybill_no", "field", "device_id",
                 "ip", "decision"),
    "employees": ("employee_id", "role", "site_id", "left_on"),
    "sites": ("site_id", "kind", "adcode"),
    "senders": ("sender_id", "category"),
    "waybills": ("waybill_no", "sender_id", "created_at", "dest_adcode"),
    "scans": ("ts", "waybill_no", "site_id", "employee_id", "kind"),
    "assignments": ("waybill_no", "courier_id", "assigned_at", "until"),
    "tickets": ("waybill_no", "agent_id", "opened_at", "closed_at"),
}  # fmt: skip
"""The columns these pipelines read, per table: the loader hands the engine nothing else,
which at ten million accesses is a good part of the memory."""


@dataclass(frozen=True, slots=True)
class Slack:
    """How far around a workflow relation an access still counts as explained by it.

    Why slack at all: clocks of handhelds and desks drift, and an agent may look the parcel
    up a moment before saving the ticket she is typing (the simulator's honest noise does
    exactly that). The figures are deliberately small: a wide window explains insiders too.
    """

    assignment: int = 10 * MINUTE
    ticket_before: int = 5 * MINUTE
    ticket_after: int = HOUR
    open_ticket: int = 7 * DAY
    exception_before: int = 5 * MINUTE
    exception_after: int = 3 * DAY
    scan: int = 12 * HOUR
    open_case: int = 30 * DAY


def local_day(us: ir.IntegerValue) -> ir.IntegerValue:
    """Days since 1970-01-01 on the carrier's (Beijing) calendar."""
    return (us + LOCAL) // DAY


def local_hour(us: ir.IntegerValue) -> ir.IntegerValue:
    return ((us + LOCAL) % DAY) // HOUR


def until_filtered(tables: Mapping[str, ir.Table], until: int | None) -> dict[str, ir.Table]:
    """Keep only what was known at ``until`` (POSIX microseconds); None keeps everything.

    A ticket still open at ``until`` loses its closing time: the detector must not know it.
    """
    t = dict(tables)
    if until is None:
        return t
    acc, scans, asg, tix, wb = (
        t[n] for n in ("accesses", "scans", "assignments", "tickets", "waybills")
    )
    t["accesses"] = acc.filter(acc.ts <= until)
    t["scans"] = scans.filter(scans.ts <= until)
    t["assignments"] = asg.filter(asg.assigned_at <= until)
    tix = tix.filter(tix.opened_at <= until)
    t["tickets"] = tix.mutate(
        closed_at=ibis.ifelse(tix.closed_at <= until, tix.closed_at, ibis.null("int64"))
    )
    t["waybills"] = wb.filter(wb.created_at <= until)
    if "cases" in t:
        cases = t["cases"].filter(t["cases"].opened_at <= until)
        t["cases"] = cases.mutate(
            closed_at=ibis.ifelse(cases.closed_at <= until, cases.closed_at, ibis.null("int64"))
        )
    return t


def relations(t: Mapping[str, ir.Table], slack: Slack) -> ir.Table:
    """Every workflow relation between an account and a waybill, with the time it covers.

    One row per (waybill, account, from, to, via): the courier it is assigned to, the agent
    who has its ticket, the staff of the site where it has an open exception, whoever
    scanned it (nearby in time), and, when the input has them (a store export), the officer
    whose investigation case names it. The exchange format has no cases, so in a folder an
    investigation explains nothing: a security officer's lookups stand on their own.
    """
    asg, tix, scans, emp = t["assignments"], t["tickets"], t["scans"], t["employees"]
    assigned = asg.select(
        waybill_no=asg.waybill_no,
        employee_id=asg.courier_id,
        lo=asg.assigned_at - slack.assignment,
        hi=asg.until + slack.assignment,
        via=ibis.literal("assigned"),
    )
    ticket = tix.select(
        waybill_no=tix.waybill_no,
        employee_id=tix.agent_id,
        lo=tix.opened_at - slack.ticket_before,
        hi=tix.closed_at.fill_null(tix.opened_at + slack.open_ticket) + slack.ticket_after,
        via=ibis.literal("ticket"),
    )
    exc = scans.filter(scans.kind == "exception")
    staff = emp.select(staff_id=emp.employee_id, staff_site=emp.site_id)
    at_site = exc.join(staff, exc.site_id == staff.staff_site)
    exception = at_site.select(
        waybill_no=at_site.waybill_no,
        employee_id=at_site.staff_id,
        lo=at_site.ts - slack.exception_before,
        hi=at_site.ts + slack.exception_after,
        via=ibis.literal("exception"),
    )
    scanned = scans.select(
        waybill_no=scans.waybill_no,
        employee_id=scans.employee_id,
        lo=scans.ts - slack.scan,
        hi=scans.ts + slack.scan,
        via=ibis.literal("scan"),
    )
    parts = [assigned, ticket, exception, scanned]
    if "cases" in t:  # investigation cases: only a store has them (detect.from_store)
        c = t["cases"]
        parts.append(
            c.select(
                waybill_no=c.waybill_no,
                employee_id=c.employee_id,
                lo=c.opened_at,
                hi=c.closed_at.fill_null(c.opened_at + slack.open_case),
                via=ibis.literal("case"),
            )
        )
    return ibis.union(*parts)


def enriched_accesses(t: Mapping[str, ir.Table], slack: Slack, pattern: str) -> ir.Table:
    """Every access with the facts the features need: explained, fresh, remote, sensitive...

    ``pattern`` is the carrier's own waybill numbers (a regular expression); a number that
    does not match is another carrier's. One row per access, the access's own columns kept.
    """
    acc, emp, sites, wb, senders = (
        t[n] for n in ("accesses", "employees", "sites", "waybills", "senders")
    )
    rel = relations(t, slack)
    touching = acc.filter(acc.waybill_no.notnull())
    explained_ids = touching.semi_join(
        rel,
        [
            touching.waybill_no == rel.waybill_no,
            touching.employee_id == rel.employee_id,
            touching.ts >= rel.lo,
            touching.ts <= rel.hi,
        ],
    ).select(xid=ibis._.event_id)
    looked = acc.filter(acc.action.isin(("search", "view_masked")) & acc.waybill_no.notnull())
    looked = looked.select(l_emp=looked.employee_id, l_wb=looked.waybill_no, l_ts=looked.ts)
    touched_ids = touching.semi_join(
        looked,
        [
            touching.employee_id == looked.l_emp,
            touching.waybill_no == looked.l_wb,
            looked.l_ts <= touching.ts,
            looked.l_ts >= touching.ts - SHEET_GAP,
        ],
    ).select(tid=ibis._.event_id)
    home = emp.join(sites, emp.site_id == sites.site_id).select(
        h_emp=emp.employee_id,
        role=emp.role,
        site_kind=sites.kind,
        home_province=sites.adcode.substr(0, 2),
        left_day=emp.left_on,
    )
    parcels = wb.join(senders, wb.sender_id == senders.sender_id).select(
        p_wb=wb.waybill_no,
        created_at=wb.created_at,
        sender_id=wb.sender_id,
        category=senders.category,
        dest_province=wb.dest_adcode.substr(0, 2),
    )
    j = acc.left_join(explained_ids, acc.event_id == explained_ids.xid)
    j = j.left_join(touched_ids, j.event_id == touched_ids.tid)
    j = j.left_join(home, j.employee_id == home.h_emp)
    j = j.left_join(parcels, j.waybill_no == parcels.p_wb)
    revealing = j.action.isin(("reveal", "export")) & j.field.notnull()
    allowed = j.decision == "allow"
    return j.mutate(
        day=local_day(j.ts),
        hour=local_hour(j.ts),
        reveal=revealing & allowed,
        explained=j.xid.notnull(),
        touched=j.tid.notnull(),
        known=j.p_wb.notnull(),
        foreign=j.waybill_no.notnull() & ~j.waybill_no.re_search(f"^(?:{pattern})$"),
        fresh=j.p_wb.notnull() & (j.ts - j.created_at < FRESH),
        sensitive=j.category.isin(SENSITIVE_CATEGORIES),
        remote=j.p_wb.notnull() & (j.dest_province != j.home_province),
    ).select(*ENRICHED_COLUMNS)


ENRICHED_COLUMNS = (
    "event_id",
    "ts",
    "employee_id",
    "action",
    "waybill_no",
    "device_id",
    "ip",
    "decision",
    "role",
    "site_kind",
    "left_day",
    "sender_id",
    "day",
    "hour",
    "reveal",
    "explained",
    "touched",
    "known",
    "foreign",
    "fresh",
    "sensitive",
    "remote",
)
"""What the features and the evidence need of an access; the rest is left behind, so an
engine that materialises the enriched accesses holds a third of the width."""


def _count(cond: ir.BooleanValue) -> ir.IntegerScalar:
    return cond.ifelse(1, 0).sum()


def actor_days(e: ir.Table) -> ir.Table:
    """One row per account and day: counts the detectors compare with peers and history."""
    unexplained = e.reveal & ~e.explained
    ordered = e.filter(e.reveal & ~e.explained)
    w = ibis.window(
        group_by=[ordered.employee_id, ordered.day], order_by=[ordered.ts, ordered.event_id]
    )
    ordered = ordered.mutate(prev=ordered.waybill_no.lag().over(w))
    sheet = ordered.group_by(["employee_id", "day"]).agg(
        pairs=_count(ordered.prev.notnull()),
        ascending=_count(ordered.prev.notnull() & (ordered.waybill_no > ordered.prev)),
    )
    by_sender = (
        e.filter(unexplained & e.known)
        .group_by(["employee_id", "day", "sender_id"])
        .agg(n=ibis._.count())
        .group_by(["employee_id", "day"])
        .agg(top_sender=ibis._.n.max())
    )
    firsts = (
        e.filter(unexplained)
        .group_by(["employee_id", "waybill_no"])
        .agg(wb_first=ibis._.day.min())
        .rename(r_emp="employee_id", r_wb="waybill_no")
    )
    e = e.left_join(firsts, (e.employee_id == firsts.r_emp) & (e.waybill_no == firsts.r_wb))
    e = e.mutate(repeat=e.reveal & ~e.explained & (e.day > e.wb_first.fill_null(1 << 30)))
    devices = e.group_by(["employee_id", "device_id"]).agg(dev_first=e.day.min())
    ips = e.group_by(["employee_id", "ip"]).agg(ip_first=e.day.min())
    first = e.group_by("employee_id").agg(acct_first=e.day.min())
    d = e.join(devices, ["employee_id", "device_id"]).join(ips, ["employee_id", "ip"])
    d = d.join(first, "employee_id")
    new_device = (d.dev_first == d.day) & (d.day > d.acct_first)
    new_ip = (d.ip_first == d.day) & (d.day > d.acct_first)
    base = d.group_by(["employee_id", "day"]).agg(
        role=d.role.max(),
        site_kind=d.site_kind.max(),
        left_day=d.left_day.max(),
        events=d.count(),
        first_ts=d.ts.min(),
        last_ts=d.ts.max(),
        reveals=_count(d.reveal),
        exports=_count(d.reveal & (d.action == "export")),
        unexplained=_count(d.reveal & ~d.explained),
        distinct_waybills=d.waybill_no.nunique(where=d.reveal),
        unexplained_waybills=d.waybill_no.nunique(where=d.reveal & ~d.explained),
        off_shift=_count(d.reveal & ((d.hour < OFF_SHIFT[0]) | (d.hour >= OFF_SHIFT[1]))),
        remote=_count(d.reveal & ~d.explained & d.remote),
        fresh=_count(d.reveal & ~d.explained & d.fresh),
        sensitive=_count(d.reveal & ~d.explained & d.sensitive),
        fresh_sensitive=_count(d.reveal & ~d.explained & d.fresh & d.sensitive),
        untouched=_count(d.reveal & ~d.explained & ~d.touched),
        repeats=_count(d.repeat),
        denied=_count((d.decision == "deny") & (d.action != "login_failed")),
        login_failed=_count(d.action == "login_failed"),
        foreign=_count(d.foreign),
        unknown=_count(d.waybill_no.notnull() & ~d.foreign & ~d.known),
        new_device=_count(new_device),
        new_ip=_count(new_ip),
        night_logins=_count((d.action == "login") & (d.hour < 5)),
    )
    out = base.left_join(sheet, ["employee_id", "day"]).left_join(by_sender, ["employee_id", "day"])
    return out.select(
        *base.columns,
        pairs=out.pairs.fill_null(0),
        ascending=out.ascending.fill_null(0),
        top_sender=out.top_sender.fill_null(0),
    )


def ticket_days(t: Mapping[str, ir.Table]) -> ir.Table:
    """Tickets an agent opened per day, and how many on fresh parcels of sensitive senders.

    Why apart from accesses: a ticket explains the agent's reveal, so an agent who opens
    tickets to cover her lookups looks explained; what gives her away is the tickets.
    """
    tix, wb, senders = t["tickets"], t["waybills"], t["senders"]
    parcels = wb.join(senders, wb.sender_id == senders.sender_id).select(
        p_wb=wb.waybill_no, created_at=wb.created_at, category=senders.category
    )
    j = tix.left_join(parcels, tix.waybill_no == parcels.p_wb)
    j = j.mutate(day=local_day(j.opened_at))
    suspect = j.category.isin(SENSITIVE_CATEGORIES) & (j.opened_at - j.created_at < FRESH)
    return j.group_by([j.agent_id.name("employee_id"), "day"]).agg(
        tickets=j.count(), fresh_sensitive_tickets=_count(suspect)
    )


def latest_event(t: Mapping[str, ir.Table]) -> list[ir.Scalar]:
    """The latest time in each table (the greatest is what ``detected_at`` reports)."""
    return [
        t["accesses"].ts.max(),
        t["scans"].ts.max(),
        t["assignments"].assigned_at.max(),
        t["tickets"].opened_at.max(),
        t["waybills"].created_at.max(),
    ]


def unexplained_holders(t: Mapping[str, ir.Table], e: ir.Table, revealers: list[str]) -> ir.Table:
    """For the given accounts, their unexplained waybills paired with whoever held each.

    Holders are the assigned couriers and whoever scanned the pickup, as in
    :func:`parcelguard.detect.holders.holdings_from_tables`.
    """
    asked = (
        e.filter(e.reveal & ~e.explained & e.known & e.employee_id.isin(revealers))
        .select(r_emp=ibis._.employee_id, waybill_no=ibis._.waybill_no)
        .distinct()
    )
    held = holder_pairs(t)
    return asked.join(held, asked.waybill_no == held.h_wb).select(
        revealer=asked.r_emp, waybill_no=asked.waybill_no, holder_id=held.holder_id
    )


def holder_pairs(t: Mapping[str, ir.Table]) -> ir.Table:
    asg, scans = t["assignments"], t["scans"]
    a = asg.select(h_wb=asg.waybill_no, holder_id=asg.courier_id)
    p = scans.filter(scans.kind == "pickup")
    return ibis.union(a, p.select(h_wb=p.waybill_no, holder_id=p.employee_id), distinct=True)


def holder_totals(t: Mapping[str, ir.Table], holders: list[str]) -> ir.Table:
    held = holder_pairs(t)
    held = held.filter(held.holder_id.isin(holders))
    return held.group_by("holder_id").agg(total=held.h_wb.nunique())


def unexplained_total(e: ir.Table) -> ir.Table:
    """Each account's distinct waybills revealed without a workflow link, over the input."""
    u = e.filter(e.reveal & ~e.explained)
    return u.group_by("employee_id").agg(unexplained_waybills=u.waybill_no.nunique())


def event_counts(t: Mapping[str, ir.Table]) -> list[ir.Scalar]:
    """Access and workflow events in the input (summed: the run's ``events_read``)."""
    return [t[n].count() for n in ("accesses", "scans", "assignments", "tickets")]


def evidence_events(e: ir.Table, employees: list[str]) -> ir.Table:
    """The given accounts' reveals, denials, other carriers' numbers and logins: evidence."""
    suspicious = e.reveal | (e.decision == "deny") | e.foreign | (e.action == "login")
    return e.filter(e.employee_id.isin(employees) & suspicious).select(
        "event_id",
        "employee_id",
        "day",
        "ts",
        "action",
        "waybill_no",
        "decision",
        "reveal",
        "explained",
        "foreign",
        "fresh",
        "sensitive",
        "hour",
        "device_id",
    )


__all__ = [
    "COLUMNS_USED",
    "DAY",
    "HOUR",
    "MINUTE",
    "Slack",
    "actor_days",
    "enriched_accesses",
    "event_counts",
    "evidence_events",
    "holder_totals",
    "latest_event",
    "local_day",
    "relations",
    "ticket_days",
    "unexplained_holders",
    "unexplained_total",
    "until_filtered",
]
