"""The policy test table (``cases.toml`` beside the policies) and its runner.

Why a table: an operator who edits a ``.cedar`` file must see at once which workflow
situations changed their answer. Each case names a role, a request and the workflow facts
that differ from a plain default (active employee, registered handheld, nothing assigned, no
exception, no ticket, no case), and the decision expected. The runner evaluates the cases
with the real :class:`~parcelguard.reveal.engine.PolicyEngine`, so what passes here is what
the service will decide for the same facts.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Final

from parcelguard.core.errors import BadInput
from parcelguard.reveal.engine import FORMS, CedarRequest, PolicyEngine, PolicyOutcome
from parcelguard.reveal.facts import Facts, RevealRequest

CASES_FILE: Final = "cases.toml"
_NOW: Final = 1_475_460_000  # 2016-10-03 10:00 +08:00: the case's first week, any fixed time
_HOURS: Final = ("assigned_from_h", "assigned_until_h", "dispatched_h", "delivered_h")
_FACT_NAMES: Final = {f.name for f in fields(Facts)}


@dataclass(frozen=True, slots=True)
class PolicyCase:
    name: str
    request: RevealRequest
    facts: Facts
    expect: str
    form: str | None
    policy: str | None


@dataclass(frozen=True, slots=True)
class CaseResult:
    case: PolicyCase
    outcome: PolicyOutcome

    @property
    def passed(self) -> bool:
        expected_allow = self.case.expect == "allow"
        if self.outcome.allowed != expected_allow:
            return False
        if self.case.form is not None and self.outcome.form != self.case.form:
            return False
        return self.case.policy is None or self.case.policy in self.outcome.policy_ids

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.case.name,
            "passed": self.passed,
            "expected": self.case.expect,
            "expected_form": self.case.form,
            "got": "allow" if self.outcome.allowed else "deny",
            "form": self.outcome.form,
            "policy_ids": list(self.outcome.policy_ids),
            "reason": self.outcome.reason,
        }


def default_facts(role: str) -> dict[str, Any]:
    return {
        "role": role,
        "site": "SITE-1",
        "active": True,
        "device_registered": True,
        "device_kind": "handheld",
        "dest_site": "SITE-1",
        "current_site": "",
        "created_at": _NOW - 86_400,
        "assigned": False,
        "assigned_from": 0,
        "assigned_until": 0,
        "dispatched_at": 0,
        "delivered_at": 0,
        "open_exception_at_actor_site": False,
        "ticket_assigned_to_actor": False,
        "case_open": False,
        "case_justified": False,
        "case_approved_by_other": False,
    }


def load_cases(path: Path) -> list[PolicyCase]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read it ({type(exc).__name__})") from None
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{path}: not TOML ({exc})") from None
    raw = document.get("case", [])
    if not isinstance(raw, list) or not raw:
        raise BadInput(f"{path}: no [[case]] tables")
    return [_case(path, number, item) for number, item in enumerate(raw, start=1)]


def _case(path: Path, number: int, item: Mapping[str, Any]) -> PolicyCase:
    where = f"{path.name} case #{number}"
    try:
        name, role = str(item["name"]), str(item["role"])
        field, purpose = str(item["field"]), str(item["purpose"])
        expect = str(item["expect"])
    except KeyError as exc:
        raise BadInput(f"{where}: needs {exc.args[0]}") from None
    if expect not in ("allow", "deny"):
        raise BadInput(f"{where} ({name}): expect must be allow or deny")
    form = item.get("form")
    if form is not None and form not in FORMS:
        raise BadInput(f"{where} ({name}): form must be one of {', '.join(FORMS)}")
    values = default_facts(role)
    given = dict(item.get("facts", {}))
    for key in _HOURS:
        if key in given:
            hours = int(given.pop(key))
            target = {
                "assigned_from_h": "assigned_from",
                "assigned_until_h": "assigned_until",
                "dispatched_h": "dispatched_at",
                "delivered_h": "delivered_at",
            }[key]
            values[target] = _NOW + hours * 3600
    if given.get("at_actor_site"):
        given.pop("at_actor_site")
        values["current_site"] = values["site"]
    unknown = set(given) - _FACT_NAMES
    if unknown:
        raise BadInput(f"{where} ({name}): unknown facts {', '.join(sorted(unknown))}")
    values.update(given)
    request = RevealRequest(  # ids of their own: one Cedar batch holds every case
        actor=f"case-actor-{number}",
        waybill_no=f"case-waybill-{number}",
        field=field,
        purpose=purpose,
        channel=str(item.get("channel", "handheld")),
    )
    return PolicyCase(name, request, Facts(**values), expect, form, item.get("policy"))


def run_cases(engine: PolicyEngine, cases: Sequence[PolicyCase]) -> list[CaseResult]:
    outcomes = engine.decide(
        [
            CedarRequest(
                case.request.actor,
                case.facts.principal_attrs(),
                case.request.waybill_no,
                case.facts.resource_attrs(),
                case.facts.context(case.request, _NOW),
            )
            for case in cases
        ],
        validate=True,
    )
    return [CaseResult(case, outcome) for case, outcome in zip(cases, outcomes, strict=True)]
