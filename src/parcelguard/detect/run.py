"""One detection run: the pipelines on an engine, the detectors on their output, alerts out.

Why this order: the engine does the heavy joins once (explanations, features per account
and day); the detectors are pure and cheap; only then are the few alerted accounts' events
fetched for evidence, so a run over tens of millions of events brings back thousands of rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from parcelguard.detect import features as F
from parcelguard.detect.alerts import MAX_EVIDENCE, Alert, Finding, merge
from parcelguard.detect.detectors import (
    CollusionDetector,
    Detector,
    HolderEvidence,
    default_detectors,
)
from parcelguard.detect.engine import Engine
from parcelguard.detect.frame import Frame, build_frame
from parcelguard.detect.holders import Holdings

DEFAULT_PATTERN = r"PG\d{12}"


@dataclass(frozen=True, slots=True)
class Detection:
    """A run's result: the alerts, and what the run looked at."""

    alerts: tuple[Alert, ...]
    events_read: int
    employees_scored: int
    detected_at: int
    frame: Frame

    def summary(self) -> dict[str, object]:
        return {
            "events_read": self.events_read,
            "employees_scored": self.employees_scored,
            "alerts": len(self.alerts),
        }


def detect(
    engine: Engine,
    until: int | None = None,
    *,
    pattern: str = DEFAULT_PATTERN,
    slack: F.Slack | None = None,
    detectors: Sequence[Detector] | None = None,
    only: str | None = None,
) -> Detection:
    """Run every detector (or the one named ``only``) over the events up to ``until``."""
    t = F.until_filtered(engine.tables, until)
    e = engine.cache(F.enriched_accesses(t, slack or F.Slack(), pattern))
    try:
        return _detect(engine, t, e, detectors, only)
    finally:
        engine.release(e)


def _detect(
    engine: Engine,
    t: Mapping[str, Any],
    e: Any,
    detectors: Sequence[Detector] | None,
    only: str | None,
) -> Detection:
    frame = build_frame(
        engine.arrow(F.actor_days(e)),
        engine.arrow(F.ticket_days(t)),
        engine.arrow(F.unexplained_total(e)),
    )
    events_read = sum(int(engine.scalar(c)) for c in F.event_counts(t))
    latest = [engine.scalar(m) for m in F.latest_event(t)]
    detected_at = max((int(x) for x in latest if x is not None and not _is_nan(x)), default=0)
    if len(frame.days) == 0:
        return Detection((), events_read, 0, detected_at, frame)
    holder_evidence = _holder_evidence(engine, t, e, frame)
    chosen = list(detectors) if detectors is not None else default_detectors(holder_evidence)
    if only is not None:
        chosen = [d for d in chosen if d.name == only]
    findings: list[Finding] = [f for d in chosen for f in d.find(frame)]
    accounts = sorted({f.employee_id for f in findings})
    evidence, seen = _evidence(engine, e, accounts, frame)
    times = {
        str(row.employee_id): (int(row.first_ts), int(row.last_ts))
        for row in frame.days.groupby("employee_id", as_index=False)
        .agg(first_ts=("first_ts", "min"), last_ts=("last_ts", "max"))
        .dropna()
        .itertuples(index=False)
    }
    alerts = merge(findings, detected_at, times, evidence, seen)
    scored = int(frame.days["employee_id"].nunique())
    return Detection(tuple(alerts), events_read, scored, detected_at, frame)


def _holder_evidence(
    engine: Engine, t: Mapping[str, Any], e: Any, frame: Frame
) -> HolderEvidence | None:
    h = frame.history
    revealers = sorted(
        str(x)
        for x in h.loc[h["unexplained_waybills"] >= CollusionDetector.MIN_ASKED, "employee_id"]
    )
    if not revealers:
        return None
    pairs = engine.arrow(F.unexplained_holders(t, e, revealers)).to_pylist()
    holders = sorted({str(p["holder_id"]) for p in pairs})
    totals = {
        str(r["holder_id"]): int(r["total"])
        for r in (engine.arrow(F.holder_totals(t, holders)).to_pylist() if holders else [])
    }
    universe = int(engine.scalar(t["waybills"].count()))
    asked_rows = engine.arrow(
        e.filter(e.reveal & ~e.explained & e.known & e.employee_id.isin(revealers)).select(
            "event_id", "employee_id", "waybill_no", "ts"
        )
    ).to_pylist()
    asked: dict[str, set[str]] = {}
    for r in asked_rows:
        asked.setdefault(str(r["employee_id"]), set()).add(str(r["waybill_no"]))
    held_by: dict[str, set[str]] = {}
    holders_of: dict[tuple[str, str], set[str]] = {}
    for p in pairs:
        held_by.setdefault(str(p["waybill_no"]), set()).add(str(p["holder_id"]))
        holders_of.setdefault((str(p["revealer"]), str(p["waybill_no"])), set()).add(
            str(p["holder_id"])
        )
    # One pass over the revealers' events, in time order: each event is evidence for every
    # holder of its waybill (the first MAX_EVIDENCE of each pair).
    ids: dict[tuple[str, str], list[str]] = {}
    for r in sorted(asked_rows, key=lambda r: (int(r["ts"]), str(r["event_id"]))):
        revealer = str(r["employee_id"])
        for holder in holders_of.get((revealer, str(r["waybill_no"])), ()):
            bucket = ids.setdefault((revealer, holder), [])
            if len(bucket) < MAX_EVIDENCE:
                bucket.append(str(r["event_id"]))
    event_ids = {pair: tuple(found) for pair, found in ids.items()}
    holdings = Holdings(
        held_by={w: frozenset(hs) for w, hs in held_by.items()}, totals=totals, universe=universe
    )
    return HolderEvidence(holdings, {a: frozenset(ws) for a, ws in asked.items()}, event_ids)


_KINDS = ("unexplained", "reveal", "off_shift", "fresh_sensitive", "foreign", "denied", "login")


def _kind_mask(rows: pa.Table, kind: str) -> list[bool]:
    cols = {name: rows[name].to_pylist() for name in rows.column_names}
    n = rows.num_rows
    out = []
    for i in range(n):
        reveal, explained = bool(cols["reveal"][i]), bool(cols["explained"][i])
        hour = int(cols["hour"][i])
        out.append(
            {
                "unexplained": reveal and not explained,
                "reveal": reveal,
                "off_shift": reveal and (hour < F.OFF_SHIFT[0] or hour >= F.OFF_SHIFT[1]),
                "fresh_sensitive": reveal
                and not explained
                and bool(cols["fresh"][i])
                and bool(cols["sensitive"][i]),
                "foreign": bool(cols["foreign"][i]),
                "denied": cols["decision"][i] == "deny",
                "login": cols["action"][i] == "login",
            }[kind]
        )
    return out


def _evidence(
    engine: Engine, e: Any, accounts: list[str], frame: Frame
) -> tuple[dict[str, dict[str, tuple[str, ...]]], dict[str, dict[str, tuple[int, int]]]]:
    """Per account and ``kind:day:window``, the event ids and the first and last time."""
    if not accounts:
        return {}, {}
    rows = engine.arrow(F.evidence_events(e, accounts))
    rows = rows.sort_by([("ts", "ascending"), ("event_id", "ascending")])
    ids, emp, day, ts = (
        rows["event_id"].to_pylist(),
        rows["employee_id"].to_pylist(),
        rows["day"].to_pylist(),
        rows["ts"].to_pylist(),
    )
    masks = {kind: _kind_mask(rows, kind) for kind in _KINDS}
    evidence: dict[str, dict[str, list[str]]] = {}
    seen: dict[str, dict[str, tuple[int, int]]] = {}
    history = frame.history_window
    for kind, mask in masks.items():
        for i, hit in enumerate(mask):
            if not hit:
                continue
            for key in (f"{kind}:{day[i]}:P1D", f"{kind}:{frame.last_day}:{history}"):
                bucket = evidence.setdefault(emp[i], {}).setdefault(key, [])
                if len(bucket) < MAX_EVIDENCE:
                    bucket.append(ids[i])
                lo, hi = seen.setdefault(emp[i], {}).get(key, (ts[i], ts[i]))
                seen[emp[i]][key] = (min(lo, ts[i]), max(hi, ts[i]))
    return (
        {a: {k: tuple(v) for k, v in kinds.items()} for a, kinds in evidence.items()},
        seen,
    )


__all__ = ["DEFAULT_PATTERN", "Detection", "detect"]


def _is_nan(value: Any) -> bool:
    """An empty table's max comes back as NaN from some engines, as None from others."""
    return isinstance(value, float) and value != value  # noqa: PLR0124
