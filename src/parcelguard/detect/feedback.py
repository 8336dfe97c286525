"""Analyst feedback: confirmed or dismissed alerts, and the re-ranking they teach.

Why: a few labels from the people who look at the alerts beat any unsupervised score. A
dismissed pattern on an account (the security officer whose investigations look like
lookups) should stop topping the queue; a reason that analysts keep confirming should rank
higher on everybody; a confirmed account stays on top. The rules are deliberately simple
and transparent, so an officer can tell why an alert moved.

The core (:func:`rerank`) is pure; :class:`FeedbackStore` is the edge, a JSON-lines file
under ``$PARCELGUARD_HOME/detect/`` (append-only, one decision a line, never rewritten).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from parcelguard.core.errors import BadInput
from parcelguard.detect.alerts import Alert, combined

Label = Literal["confirm", "dismiss"]
LABELS: tuple[Label, ...] = ("confirm", "dismiss")

DISMISSED_FACTOR = 0.2
"""An account's alert made of reasons an analyst already dismissed for it keeps a fifth."""
CONFIRMED_FLOOR = 0.99
"""A confirmed account's later alerts rank at least here: the case is open."""
CODE_WEIGHT_RANGE = (0.25, 1.5)


@dataclass(frozen=True, slots=True)
class Decision:
    alert_id: str
    employee_id: str
    codes: tuple[str, ...]
    label: Label
    at: str

    def as_dict(self) -> dict[str, object]:
        return {
            "alert_id": self.alert_id,
            "employee_id": self.employee_id,
            "codes": list(self.codes),
            "label": self.label,
            "at": self.at,
        }


def code_weights(decisions: Sequence[Decision]) -> dict[str, float]:
    """Per reason code: (confirms + 1) / (dismissals + 1), clipped; 1 when never labelled."""
    confirms: dict[str, int] = {}
    dismissals: dict[str, int] = {}
    for d in decisions:
        target = confirms if d.label == "confirm" else dismissals
        for code in d.codes:
            target[code] = target.get(code, 0) + 1
    lo, hi = CODE_WEIGHT_RANGE
    return {
        code: min(hi, max(lo, (confirms.get(code, 0) + 1) / (dismissals.get(code, 0) + 1)))
        for code in set(confirms) | set(dismissals)
    }


def rerank(alerts: Iterable[Alert], decisions: Sequence[Decision]) -> list[Alert]:
    """The alerts rescored by the analysts' decisions, strongest first."""
    weights = code_weights(decisions)
    confirmed = {d.employee_id for d in decisions if d.label == "confirm"}
    dismissed: dict[str, set[str]] = {}
    for d in decisions:
        if d.label == "dismiss":
            dismissed.setdefault(d.employee_id, set()).update(d.codes)
    out = []
    for alert in alerts:
        best: dict[str, float] = {}
        for r in alert.reasons:
            s = min(0.999, r.severity * weights.get(r.code, 1.0))
            best[r.code] = max(best.get(r.code, 0.0), s)
        score = combined(best.values())
        if alert.employee_id in confirmed:
            score = max(score, CONFIRMED_FLOOR)
        elif alert.codes <= dismissed.get(alert.employee_id, set()):
            score *= DISMISSED_FACTOR
        out.append(replace(alert, score=score))
    return sorted(out, key=lambda a: (-a.score, a.employee_id))


class FeedbackStore:
    """Decisions in ``<home>/detect/feedback.jsonl``, and the last run's alerts beside them."""

    def __init__(self, home: Path) -> None:
        self.folder = home / "detect"
        self.decisions_file = self.folder / "feedback.jsonl"
        self.alerts_file = self.folder / "last_alerts.jsonl"

    def decisions(self) -> list[Decision]:
        if not self.decisions_file.is_file():
            return []
        out = []
        for number, line in enumerate(self.decisions_file.read_text("utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                label = raw["label"]
                if label not in LABELS:
                    raise ValueError(label)
                out.append(
                    Decision(
                        str(raw["alert_id"]),
                        str(raw["employee_id"]),
                        tuple(str(c) for c in raw["codes"]),
                        label,
                        str(raw.get("at", "")),
                    )
                )
            except (ValueError, KeyError, TypeError):
                raise BadInput(
                    f"{self.decisions_file}:{number}: not a feedback record", code="bad_feedback"
                ) from None
        return out

    def remember_alerts(self, lines: Sequence[str]) -> None:
        """Keep the last run's alerts so ``feedback ALERT`` can find what it is about."""
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.alerts_file.with_suffix(".tmp")
        tmp.write_text("".join(f"{line}\n" for line in lines), "utf-8")
        os.replace(tmp, self.alerts_file)

    def find_alert(self, alert_id: str, alerts_file: Path | None = None) -> dict[str, object]:
        source = alerts_file or self.alerts_file
        if not source.is_file():
            raise BadInput(
                f"{source}: no alerts to give feedback on; run `parcelguard detect run` first",
                code="no_alerts",
            )
        for line in source.read_text("utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                if record.get("alert_id") == alert_id:
                    return dict(record)
        raise BadInput(f"{alert_id}: no such alert in {source}", code="unknown_alert")

    def add(self, decision: Decision) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.decisions_file.open("a", encoding="utf-8") as f:
            f.write(json.dumps(decision.as_dict(), ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())


def parse_label(text: str) -> Label:
    for label in LABELS:
        if text == label:
            return label
    raise BadInput(f"{text}: say confirm or dismiss", code="bad_label")


__all__ = [
    "LABELS",
    "Decision",
    "FeedbackStore",
    "Label",
    "code_weights",
    "parse_label",
    "rerank",
]
