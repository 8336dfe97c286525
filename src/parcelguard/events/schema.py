"""The event exchange format (``events.md``, v1) as data, so no other module restates it.

The simulator, the readers and the validator all take their columns, enumerations and
references from here; a change to the format is a change to this file and nowhere else.
The tests compare these tables with the reference checker ``validate_events.py``.

Every table is converted to one Arrow schema on read and on write: strings stay strings,
``bool`` is ``bool_``, ``date`` is ``date32`` and ``ts`` is ``timestamp[us, tz=+08:00]``.
The spec allows any time zone in a file; normalising to the carrier's own offset on read
means two folders holding the same instants compare equal whatever zone wrote them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

import pyarrow as pa

from parcelguard.core.waybill import CATEGORY_NAMES

Kind = Literal["str", "bool", "date", "ts"]

TIMEZONE = "+08:00"
TIMESTAMP = pa.timestamp("us", tz=TIMEZONE)
ARROW_TYPES: Mapping[Kind, pa.DataType] = MappingProxyType(
    {"str": pa.string(), "bool": pa.bool_(), "date": pa.date32(), "ts": TIMESTAMP}
)

ROLES: tuple[str, ...] = (
    "courier",
    "station_clerk",
    "warehouse_clerk",
    "cs_agent",
    "station_manager",
    "security_officer",
    "hq_analyst",
    "it_engineer",
)
SITE_KINDS: tuple[str, ...] = ("station", "warehouse", "hub", "cs_center", "office")
CATEGORIES: tuple[str, ...] = CATEGORY_NAMES
SCAN_KINDS: tuple[str, ...] = (
    "pickup",
    "arrive",
    "depart",
    "dispatch",
    "deliver",
    "exception",
    "return",
)
TICKET_KINDS: tuple[str, ...] = ("complaint", "address_change", "lost", "delay", "other")
ACCESS_ACTIONS: tuple[str, ...] = (
    "login",
    "login_failed",
    "search",
    "view_masked",
    "reveal",
    "export",
)
ACCESS_FIELDS: tuple[str, ...] = ("name", "phone", "address")
ACCESS_PURPOSES: tuple[str, ...] = (
    "delivery",
    "pickup",
    "exception",
    "customer_service",
    "investigation",
    "other",
)
ACCESS_CHANNELS: tuple[str, ...] = ("handheld", "web", "api")
ACCESS_DECISIONS: tuple[str, ...] = ("allow", "deny")


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its kind, whether the spec lets it be empty, and its allowed values.

    ``nullable`` is the spec's ``empty``: an empty CSV cell or a Parquet null. A column that
    is not nullable must hold a value in every row (for strings: a non-empty one).
    """

    name: str
    kind: Kind
    nullable: bool = False
    values: tuple[str, ...] | None = None
    unique: bool = False

    @property
    def arrow_type(self) -> pa.DataType:
        """The Arrow type every reader and writer converts this column to."""
        return ARROW_TYPES[self.kind]

    def arrow_field(self) -> pa.Field:
        """The column as an Arrow field; nullability is recorded so Parquet keeps it."""
        return pa.field(self.name, self.arrow_type, nullable=self.nullable)


@dataclass(frozen=True, slots=True)
class Table:
    """One table of the format; ``truth`` marks ground truth that detectors must not read."""

    name: str
    columns: tuple[Column, ...]
    truth: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        """The column names in the spec's order, which is also the order files are written in."""
        return tuple(c.name for c in self.columns)

    def arrow_schema(self) -> pa.Schema:
        """The Arrow schema of the table, without metadata so files carry none."""
        return pa.schema([c.arrow_field() for c in self.columns])


@dataclass(frozen=True, slots=True)
class Reference:
    """``table.column`` must name a row of ``target`` by its ``target_column``."""

    table: str
    column: str
    target: str
    target_column: str


def _str(name: str, values: tuple[str, ...] | None = None, *, nullable: bool = False) -> Column:
    return Column(name, "str", nullable=nullable, values=values)


def _ts(name: str, *, nullable: bool = False) -> Column:
    return Column(name, "ts", nullable=nullable)


_TABLES: tuple[Table, ...] = (
    Table(
        "employees",
        (
            _str("employee_id"),
            _str("role", ROLES),
            _str("site_id"),
            Column("hired_on", "date"),
            Column("left_on", "date", nullable=True),
        ),
    ),
    Table("sites", (_str("site_id"), _str("kind", SITE_KINDS), _str("adcode"))),
    Table("senders", (_str("sender_id"), _str("category", CATEGORIES), Column("bulk", "bool"))),
    Table(
        "waybills",
        (
            _str("waybill_no"),
            _str("sender_id"),
            _ts("created_at"),
            _str("origin_site_id"),
            _str("dest_site_id"),
            _str("dest_adcode"),
        ),
    ),
    Table(
        "scans",
        (
            _ts("ts"),
            _str("waybill_no"),
            _str("site_id"),
            _str("employee_id"),
            _str("kind", SCAN_KINDS),
        ),
    ),
    Table(
        "assignments",
        (_str("waybill_no"), _str("courier_id"), _ts("assigned_at"), _ts("until")),
    ),
    Table(
        "tickets",
        (
            _str("ticket_id"),
            _str("waybill_no"),
            _str("agent_id"),
            _ts("opened_at"),
            _ts("closed_at", nullable=True),
            _str("kind", TICKET_KINDS),
        ),
    ),
    Table(
        "accesses",
        (
            Column("event_id", "str", unique=True),
            _ts("ts"),
            _str("employee_id"),
            _str("action", ACCESS_ACTIONS),
            _str("waybill_no", nullable=True),
            _str("field", ACCESS_FIELDS, nullable=True),
            _str("purpose", ACCESS_PURPOSES, nullable=True),
            _str("channel", ACCESS_CHANNELS),
            _str("device_id"),
            _str("ip"),
            _str("decision", ACCESS_DECISIONS),
            _str("reason"),
        ),
    ),
    Table(
        "labels",
        (_str("employee_id"), _str("scenario"), _ts("started_at"), _ts("ended_at")),
        truth=True,
    ),
)

TABLES: Mapping[str, Table] = MappingProxyType({t.name: t for t in _TABLES})
"""Every table of the format in the spec's order, ground truth (``labels``) last."""

EVENT_TABLES: tuple[str, ...] = tuple(t.name for t in _TABLES if not t.truth)
"""The tables a detector may read: everything but the ground truth."""

SCHEMAS: Mapping[str, pa.Schema] = MappingProxyType({t.name: t.arrow_schema() for t in _TABLES})

# The same references validate_events.py checks. Waybill numbers in accesses are not among
# them on purpose: the spec lets other carriers' numbers appear there.
REFERENCES: tuple[Reference, ...] = (
    Reference("scans", "waybill_no", "waybills", "waybill_no"),
    Reference("scans", "site_id", "sites", "site_id"),
    Reference("scans", "employee_id", "employees", "employee_id"),
    Reference("accesses", "employee_id", "employees", "employee_id"),
    Reference("assignments", "courier_id", "employees", "employee_id"),
    Reference("tickets", "agent_id", "employees", "employee_id"),
    Reference("employees", "site_id", "sites", "site_id"),
)
