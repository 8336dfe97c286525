"""Containment: an account suspended for personal-data access, until a named person lifts it.

Why in the store even when the windows live in Redis: a containment is an act with
consequences for a person (the account cannot work), so it is kept durably, beside the
audit log that records it and its lifting, and every service instance sees it.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from parcelguard.core.errors import BadInput
from parcelguard.storage import begin_write
from parcelguard.storage.schema import guard_containments

_C = guard_containments.c
GUARD = "guard"


@dataclass(frozen=True, slots=True)
class Containment:
    containment_id: int
    employee_id: str
    contained_at: datetime
    reasons: tuple[str, ...]
    alert_id: str
    contained_by: str
    released_at: datetime | None = None
    released_by: str | None = None
    release_reason: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "containment_id": self.containment_id,
            "employee_id": self.employee_id,
            "contained_at": self.contained_at.isoformat(),
            "reasons": list(self.reasons),
            "alert_id": self.alert_id,
            "contained_by": self.contained_by,
            "released_at": None if self.released_at is None else self.released_at.isoformat(),
            "released_by": self.released_by,
            "release_reason": self.release_reason,
        }


def _row(row: sa.Row[tuple[object, ...]]) -> Containment:
    m = row._mapping
    return Containment(
        containment_id=int(m["containment_id"]),
        employee_id=str(m["employee_id"]),
        contained_at=m["contained_at"],
        reasons=tuple(json.loads(str(m["reasons"]))),
        alert_id=str(m["alert_id"]),
        contained_by=str(m["contained_by"]),
        released_at=m["released_at"],
        released_by=m["released_by"],
        release_reason=m["release_reason"],
    )


_PERSON = re.compile(r"[A-Za-z0-9_.:\-/+@#]{1,64}")


def _named(person: str, what: str) -> str:
    """A person's staff id: what the audit log can hold (ASCII id characters), not 'guard'."""
    person = person.strip()
    if not _PERSON.fullmatch(person) or person.lower() == GUARD:
        raise BadInput(
            f"{what}: give the staff id of the person acting (letters, digits, _ . : - / + @ #, "
            "up to 64), not 'guard'"
        )
    return person


class Containments:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def contain(
        self, employee_id: str, reasons: Sequence[str], now: datetime, by: str = GUARD
    ) -> tuple[Containment, bool]:
        """Suspend the account; (the containment, whether it is new). Idempotent."""
        if by != GUARD:
            by = _named(by, "--by")
        with begin_write(self.engine) as conn:
            row = conn.execute(
                sa.select(guard_containments).where(
                    _C.employee_id == employee_id, _C.released_at.is_(None)
                )
            ).first()
            if row is not None:
                return _row(row), False
            alert_id = f"guard-{secrets.token_hex(8)}"
            conn.execute(
                guard_containments.insert().values(
                    employee_id=employee_id,
                    contained_at=now,
                    reasons=json.dumps(list(reasons)),
                    alert_id=alert_id,
                    contained_by=by,
                )
            )
            made = conn.execute(sa.select(guard_containments).where(_C.alert_id == alert_id)).one()
        return _row(made), True

    def release(self, employee_id: str, by: str, reason: str, now: datetime) -> Containment:
        """Lift the active containment; only a named person may, with a written reason."""
        by = _named(by, "--by")
        reason = reason.strip()
        if not reason or len(reason) > 512:
            raise BadInput("--reason: write why the containment is lifted (up to 512 characters)")
        with begin_write(self.engine) as conn:
            row = conn.execute(
                sa.select(guard_containments).where(
                    _C.employee_id == employee_id, _C.released_at.is_(None)
                )
            ).first()
            if row is None:
                raise BadInput(f"employee {employee_id}: not contained")
            conn.execute(
                guard_containments.update()
                .where(_C.containment_id == row.containment_id)
                .values(released_at=now, released_by=by, release_reason=reason)
            )
            done = conn.execute(
                sa.select(guard_containments).where(_C.containment_id == row.containment_id)
            ).one()
        return _row(done)

    def history(self, *, active_only: bool = False) -> list[Containment]:
        query = sa.select(guard_containments).order_by(_C.contained_at, _C.containment_id)
        if active_only:
            query = query.where(_C.released_at.is_(None))
        with self.engine.connect() as conn:
            return [_row(row) for row in conn.execute(query)]
