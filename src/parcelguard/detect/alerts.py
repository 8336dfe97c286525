"""Alerts as values with reasons: what a security officer reads, and what the audit log proves.

Why reasons and not a bare score: an officer acts on "212 reveals without a workflow link
yesterday, where peers of her role have 0" and can check it against the audit log by the
event ids; a score alone tells her nothing she can act on or defend.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8))
MAX_EVIDENCE = 50
"""Event ids an alert carries: enough to prove the pattern, not the whole history."""
MAX_PER_CODE = 3
"""Reasons of one code an alert shows (its strongest days); the rest add nothing to act on."""


@dataclass(frozen=True, slots=True)
class Reason:
    """One deviation: which feature, its value, the baseline, over which window.

    ``evidence`` says which of the account's events prove it (a kind understood by
    :func:`parcelguard.detect.run.pick_evidence`) and ``day`` the last day of the window.
    """

    code: str
    detail: str
    value: float
    baseline: float
    window: str
    severity: float
    day: int
    evidence: str = "unexplained"
    evidence_ids: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "detail": f"{self.detail} (day {day_text(self.day)})"
            if self.window == "P1D"
            else self.detail,
            "value": _number(self.value),
            "baseline": _number(self.baseline),
            "window": self.window,
        }


@dataclass(frozen=True, slots=True)
class Finding:
    """What one detector found about one account."""

    employee_id: str
    detector: str
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class Alert:
    employee_id: str
    score: float
    detected_at: int
    """POSIX microseconds of the latest event in the input (see events.md)."""
    first_seen: int
    last_seen: int
    reasons: tuple[Reason, ...]
    evidence: tuple[str, ...]
    detectors: tuple[str, ...] = field(default=())

    @property
    def alert_id(self) -> str:
        """Stable across runs on the same input: the account, its reason codes, the time."""
        codes = ",".join(sorted({r.code for r in self.reasons}))
        text = f"{self.employee_id}|{codes}|{self.detected_at}"
        return "AL" + hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(r.code for r in self.reasons)

    @property
    def last_day(self) -> int:
        return max(r.day for r in self.reasons)

    def rescored(self, score: float) -> Alert:
        return replace(self, score=score)

    def as_dict(self) -> dict[str, object]:
        return {
            "employee_id": self.employee_id,
            "score": round(self.score, 4),
            "detected_at": iso(self.detected_at),
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "reasons": [r.as_dict() for r in self.reasons],
            "evidence": list(self.evidence),
            "alert_id": self.alert_id,
            "detectors": list(self.detectors),
        }


def iso(us: int) -> str:
    """``2016-10-05T18:00:00+08:00``: the carrier's offset, whole seconds unless not whole."""
    moment = datetime.fromtimestamp(us / 1_000_000, UTC).astimezone(BEIJING)
    if us % 1_000_000 == 0:
        return moment.isoformat(timespec="seconds")
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)
    return moment.astimezone(BEIJING).isoformat(timespec="microseconds")


def day_text(day: int) -> str:
    """The carrier's calendar day ``day`` (days since 1970-01-01) as 2016-10-05."""
    return (datetime(1970, 1, 1) + timedelta(days=day)).date().isoformat()


def combined(severities: Iterable[float]) -> float:
    """Independent-looking evidence adds up: 1 - prod(1 - s), so two 0.5s make 0.75."""
    rest = 1.0
    for s in severities:
        rest *= 1.0 - min(max(s, 0.0), 0.999)
    return 1.0 - rest


def severity(excess: float) -> float:
    """A reason's weight from how far past its bar it is (1 = just at the bar): 0.5 .. 1."""
    return 1.0 - 0.5 * math.exp(-max(excess - 1.0, 0.0))


def merge(
    findings: Sequence[Finding],
    detected_at: int,
    times: dict[str, tuple[int, int]],
    evidence: dict[str, dict[str, tuple[str, ...]]],
    seen: dict[str, dict[str, tuple[int, int]]],
) -> list[Alert]:
    """One alert per account from every detector's findings, strongest reasons first.

    ``times`` is each account's first and last event in the input (the fallback when a
    reason has no events of its own, the harvester's for instance); ``evidence`` and
    ``seen`` give each reason's event ids and their first and last time, by reason code.
    """
    by_account: dict[str, list[Finding]] = {}
    for f in findings:
        by_account.setdefault(f.employee_id, []).append(f)
    alerts = []
    for account, found in by_account.items():
        ranked = sorted(
            (r for f in found for r in f.reasons), key=lambda r: (-r.severity, r.code, r.day)
        )
        per_code: dict[str, int] = {}
        reasons = []
        for r in ranked:
            per_code[r.code] = per_code.get(r.code, 0) + 1
            if per_code[r.code] <= MAX_PER_CODE:
                reasons.append(r)
        ids: dict[str, None] = {}  # ordered and unique
        spans: list[tuple[int, int]] = []
        for r in reasons:
            key = f"{r.evidence}:{r.day}:{r.window}"
            got = r.evidence_ids or evidence.get(account, {}).get(key, ())
            ids.update(dict.fromkeys(got))
            if key in seen.get(account, {}):
                spans.append(seen[account][key])
        first, last = (
            (min(s[0] for s in spans), max(s[1] for s in spans))
            if spans
            else times.get(account, (detected_at, detected_at))
        )
        alerts.append(
            Alert(
                employee_id=account,
                score=combined(_best_per_code(reasons)),
                detected_at=detected_at,
                first_seen=first,
                last_seen=last,
                reasons=tuple(reasons),
                evidence=tuple(ids)[:MAX_EVIDENCE],
                detectors=tuple(sorted({f.detector for f in found})),
            )
        )
    return sorted(alerts, key=lambda a: (-a.score, a.employee_id))


def _best_per_code(reasons: Sequence[Reason]) -> list[float]:
    """The same deviation on several days is one piece of evidence, not several."""
    best: dict[str, float] = {}
    for r in reasons:
        best[r.code] = max(best.get(r.code, 0.0), r.severity)
    return list(best.values())


def _number(value: float) -> float | int:
    if float(value).is_integer():
        return int(value)
    return round(float(value), 3)


__all__ = [
    "MAX_EVIDENCE",
    "Alert",
    "Finding",
    "Reason",
    "combined",
    "day_text",
    "iso",
    "merge",
    "severity",
]
