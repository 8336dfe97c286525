"""A small hand-made world: every table, a few rows each, with nulls where the spec allows.

Rows are built from plain Python values with the schemas of ``parcelguard.events.schema``,
so a test can compare what was read back with exactly what was written. The references
hold (every scan's employee exists, and so on), so the world is valid as it stands.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pyarrow as pa

from parcelguard.events.schema import SCHEMAS

CST = timezone(timedelta(hours=8))


def at(day: int, hour: int, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    """A time in October 2016, China Standard Time."""
    return datetime(2016, 10, day, hour, minute, second, micro, tzinfo=CST)


def world_rows() -> dict[str, dict[str, list[object]]]:
    """The world as columns of Python values, easy to tweak in a test before building."""
    return {
        "employees": {
            "employee_id": ["E001", "E002", "E003", "E004"],
            "role": ["courier", "cs_agent", "station_clerk", "security_officer"],
            "site_id": ["S01", "S03", "S01", "S04"],
            "hired_on": [date(2015, 3, 1), date(2014, 7, 15), date(2016, 1, 4), date(2012, 5, 2)],
            "left_on": [None, None, date(2016, 10, 31), None],
        },
        "sites": {
            "site_id": ["S01", "S02", "S03", "S04"],
            "kind": ["station", "warehouse", "cs_center", "office"],
            "adcode": ["310115", "310112", "310104", "310101"],
        },
        "senders": {
            "sender_id": ["N01", "N02"],
            "category": ["health", "electronics"],
            "bulk": [False, True],
        },
        "waybills": {
            "waybill_no": ["PG316508274413", "PG316508274420"],
            "sender_id": ["N01", "N02"],
            "created_at": [at(1, 8), at(1, 9, 30, 0, 250_000)],
            "origin_site_id": ["S02", "S02"],
            "dest_site_id": ["S01", "S01"],
            "dest_adcode": ["310115", "310115"],
        },
        "scans": {
            "ts": [at(1, 10), at(2, 6, 5), at(2, 8, 1, 12), at(2, 14, 40)],
            "waybill_no": ["PG316508274413"] * 4,
            "site_id": ["S02", "S01", "S01", "S01"],
            "employee_id": ["E003", "E003", "E001", "E001"],
            "kind": ["pickup", "arrive", "dispatch", "deliver"],
        },
        "assignments": {
            "waybill_no": ["PG316508274413", "PG316508274420"],
            "courier_id": ["E001", "E001"],
            "assigned_at": [at(2, 8), at(2, 8)],
            "until": [at(2, 20), at(3, 20)],
        },
        "tickets": {
            "ticket_id": ["T01", "T02"],
            "waybill_no": ["PG316508274413", "PG316508274420"],
            "agent_id": ["E002", "E002"],
            "opened_at": [at(2, 9), at(2, 11)],
            "closed_at": [None, at(2, 11, 45)],
            "kind": ["complaint", "address_change"],
        },
        "accesses": {
            "event_id": ["A001", "A002", "A003", "A004", "A005"],
            "ts": [at(3, 9, 15, 2), at(3, 9, 16), at(3, 9, 20, 5, 7), at(3, 22, 1), at(3, 23)],
            "employee_id": ["E001", "E001", "E002", "E002", "E002"],
            "action": ["login", "reveal", "view_masked", "export", "login_failed"],
            "waybill_no": [None, "PG316508274413", "SF1234567890123", "PG316508274420", None],
            "field": [None, "phone", None, "address", None],
            "purpose": [None, "delivery", "customer_service", "other", None],
            "channel": ["handheld", "handheld", "web", "web", "api"],
            "device_id": ["D01", "D01", "W07", "W07", "W07"],
            "ip": ["10.0.0.1", "10.0.0.1", "10.8.1.20", "10.8.1.20", "203.0.113.5"],
            "decision": ["allow", "allow", "allow", "deny", "deny"],
            "reason": ["ok", "assigned_courier", "open_ticket", "bulk_export", "bad_password"],
        },
        "labels": {
            "employee_id": ["E002"],
            "scenario": ["bulk_export"],
            "started_at": [at(3, 22, 1)],
            "ended_at": [at(3, 22, 1)],
        },
    }


def build(rows: dict[str, dict[str, list[object]]]) -> dict[str, pa.Table]:
    """Arrow tables with the format's schemas."""
    return {name: pa.table(columns, schema=SCHEMAS[name]) for name, columns in rows.items()}
