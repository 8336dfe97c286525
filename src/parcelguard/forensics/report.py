"""A leak case written up: the JSON report, the bilingual PDF, the legal input and the evidence.

``leak report CASE --out DIR`` gathers what the earlier steps found (``case.json`` from ingest,
``match.json`` from match and attribution, run now if missing), assesses it under
法释〔2017〕10号, and asks the audit log for an evidence bundle of the named sources' reveals:
their entries, inclusion proofs and a signed checkpoint, which ``parcelguard audit
verify-bundle`` checks offline with the log's public key (written beside it). Two legal
assessments are made, because an investigator needs both: the whole file (what the seller
held) and each named source account (what that account revealed in its duties, so Art. 5's
halved standards apply unless the facts say otherwise).

Every file is written to a temporary name and renamed into ``DIR``; a failure leaves no
half-written report behind.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from parcelguard.config import Settings
from parcelguard.core.errors import BadInput
from parcelguard.forensics.case import CaseDir, write_atomically
from parcelguard.legal import (
    DEFAULT_WAYBILL_CATEGORY,
    DEFAULT_WAYBILL_CATEGORY_REASON,
    Category,
    LegalCase,
    assess,
)

REPORT_FORMAT = "parcelguard.leak-report/1"
REPORT_JSON = "report.json"
REPORT_PDF = "report.pdf"
EVIDENCE_JSON = "evidence.json"
LOG_KEY = "log-key.txt"
LEGAL_CASE_JSON = "legal-case.json"
# A bundle carries one inclusion proof per entry; past this many the named sources' earliest
# entries are kept and the report says how many were left out (``audit bundle`` adds more).
MAX_EVIDENCE_ENTRIES = 20_000

_CATEGORY_OVERRIDE_REASON = {
    "en": "Category set by the investigator for this case (--category).",
    "zh": "本案类别由调查人员指定（--category）。",
}


@dataclass(frozen=True, slots=True)
class WrittenReport:
    """What was written where, and the headline an investigator reads first."""

    out_dir: Path
    files: dict[str, str]
    severity: str
    sources: tuple[dict[str, object], ...]
    evidence_entries: int

    def as_dict(self) -> dict[str, object]:
        return {
            "out": str(self.out_dir),
            "files": dict(self.files),
            "severity": self.severity,
            "sources": list(self.sources),
            "evidence_entries": self.evidence_entries,
        }


def category_of(text: str | None) -> Category:
    """The category waybill records are counted in: the default, or the investigator's."""
    if text is None:
        return DEFAULT_WAYBILL_CATEGORY
    try:
        return Category(text)
    except ValueError:
        known = ", ".join(c.value for c in Category)
        raise BadInput(f"--category {text}: not a category (known: {known})") from None


def read_facts(path: Path | None) -> dict[str, object]:
    """The investigator's facts (a JSON object of 法释〔2017〕10号 facts, no ``records``)."""
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise BadInput(f"--facts {path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"--facts {path}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise BadInput(f"--facts {path}: not a JSON object of facts")
    if "records" in data:
        raise BadInput(f"--facts {path}: records come from the case; give only facts")
    return data


def legal_inputs(
    ingest: Mapping[str, Any],
    attribution: Mapping[str, Any],
    category: Category,
    facts: Mapping[str, object],
) -> dict[str, dict[str, object]]:
    """The legal inputs: the whole file, and each named source account.

    The file's count is Art. 11 para. 3's: what was seized, less the duplicates and untrue
    records the ingest proved. An account's count is the leaked records it revealed; those
    were obtained in performing its duties unless the facts say so explicitly.
    """
    counted = int(ingest.get("person_records") or 0)
    duplicates = int(ingest.get("duplicates_excluded") or 0)
    untrue = int(ingest.get("untrue_excluded") or 0)
    inputs: dict[str, dict[str, object]] = {
        "file": {
            "records": {
                category.value: {
                    "seized": counted + duplicates + untrue,
                    "proven_duplicate": duplicates,
                    "proven_untrue": untrue,
                }
            },
            **facts,
        }
    }
    sources = set(attribution.get("sources") or [])
    for account in attribution.get("accounts") or []:
        if account.get("employee_id") not in sources:
            continue
        inputs[f"account:{account['employee_id']}"] = {
            "records": {category.value: int(account.get("revealed") or 0)},
            "obtained_in_duties": True,
            **facts,
        }
    return inputs


def build_report(
    case: CaseDir,
    ingest: Mapping[str, Any],
    findings: Mapping[str, Any],
    *,
    category: Category,
    category_chosen: bool,
    facts: Mapping[str, object],
    evidence: Mapping[str, object],
    generated_at: datetime,
) -> dict[str, object]:
    """The report's dictionary (pure): what report.json holds and report.pdf shows."""
    attribution = findings.get("attribution") or {}
    inputs = legal_inputs(ingest, attribution, category, facts)
    assessments = {
        name: assess(LegalCase.from_json_obj(obj, where=f"legal input {name}")).as_dict()
        for name, obj in inputs.items()
    }
    return {
        "format": REPORT_FORMAT,
        "case": case.name,
        "generated_at": generated_at.isoformat(),
        "first_seen": findings.get("first_seen") or ingest.get("first_seen"),
        "source": ingest.get("source"),
        "ingest": {key: value for key, value in ingest.items() if key != "source"},
        "match": findings.get("match"),
        "attribution": attribution,
        "legal": {
            "category": category.value,
            "category_reason": _CATEGORY_OVERRIDE_REASON
            if category_chosen
            else DEFAULT_WAYBILL_CATEGORY_REASON,
            "inputs": inputs,
            "assessment": assessments["file"],
            "accounts": {
                name.removeprefix("account:"): value
                for name, value in assessments.items()
                if name != "file"
            },
        },
        "evidence": dict(evidence),
    }


def evidence_sequences(attribution: Mapping[str, Any]) -> tuple[list[int], int]:
    """The named sources' evidence entries (at most MAX_EVIDENCE_ENTRIES) and how many more."""
    sources = set(attribution.get("sources") or [])
    wanted: set[int] = set()
    for account in attribution.get("accounts") or []:
        if account.get("employee_id") in sources:
            wanted.update(int(s) for s in account.get("evidence_sequences") or [])
    for canary in attribution.get("canaries") or []:
        wanted.update(int(s) for s in canary.get("evidence_sequences") or [])
    ordered = sorted(wanted)
    return ordered[:MAX_EVIDENCE_ENTRIES], max(0, len(ordered) - MAX_EVIDENCE_ENTRIES)


def write_case_report(
    settings: Settings,
    case: CaseDir,
    out_dir: Path,
    *,
    category: str | None = None,
    facts_file: Path | None = None,
    now: datetime,
    rematch: bool = False,
) -> WrittenReport:
    """Write report.json, report.pdf, legal-case.json, evidence.json and the log's key."""
    from parcelguard.admin import log_signer, open_audit_log
    from parcelguard.forensics.attribute import match_case
    from parcelguard.forensics.report_pdf import write_report_pdf

    case.require()
    chosen = category_of(category)
    facts = read_facts(facts_file)
    ingest = case.read_json(case.case_file)
    if rematch or not case.match_file.is_file():
        findings: Mapping[str, Any] = match_case(settings, case).as_dict()
    else:
        findings = case.read_json(case.match_file)
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInput(f"--out {out_dir}: exists and is not a directory")
    out_dir.mkdir(parents=True, exist_ok=True)

    attribution = findings.get("attribution") or {}
    sequences, left_out = evidence_sequences(attribution)
    signer = log_signer(settings)
    evidence: dict[str, object] = {
        "file": EVIDENCE_JSON,
        "entries": len(sequences),
        "entries_left_out": left_out,
        "origin": settings.log_origin,
        "verifier_key_file": LOG_KEY,
        "tree_size": None,
    }
    if sequences:
        bundle = open_audit_log(settings).bundle(sequences, signer, settings.log_origin, now)
        evidence["tree_size"] = _tree_size(bundle)
        write_atomically(out_dir / EVIDENCE_JSON, (json.dumps(bundle, indent=2) + "\n").encode())
    else:
        evidence["file"] = None
    write_atomically(out_dir / LOG_KEY, (signer.verifier_key() + "\n").encode())

    report = build_report(
        case,
        ingest,
        findings,
        category=chosen,
        category_chosen=category is not None,
        facts=facts,
        evidence=evidence,
        generated_at=now,
    )
    legal = report["legal"]
    assert isinstance(legal, dict)
    write_atomically(
        out_dir / LEGAL_CASE_JSON,
        (json.dumps(legal["inputs"]["file"], ensure_ascii=False, indent=2) + "\n").encode(),
    )
    write_atomically(
        out_dir / REPORT_JSON,
        (json.dumps(report, ensure_ascii=False, indent=2, default=str) + "\n").encode(),
    )
    write_report_pdf(report, out_dir / REPORT_PDF)
    files = {
        "report_json": REPORT_JSON,
        "report_pdf": REPORT_PDF,
        "legal_case": LEGAL_CASE_JSON,
        "log_key": LOG_KEY,
    }
    if sequences:
        files["evidence"] = EVIDENCE_JSON
    sources = tuple(
        {
            key: account.get(key)
            for key in ("employee_id", "role", "site_id", "alone_share", "share")
        }
        for account in attribution.get("accounts") or []
        if account.get("employee_id") in set(attribution.get("sources") or [])
    )
    return WrittenReport(
        out_dir=out_dir,
        files=files,
        severity=str(legal["assessment"]["severity"]),
        sources=sources,
        evidence_entries=len(sequences),
    )


def _tree_size(bundle: Mapping[str, object]) -> int | None:
    """The checkpoint's tree size: the second line of the signed note."""
    note = bundle.get("checkpoint")
    if not isinstance(note, str):
        return None
    lines = note.splitlines()
    return int(lines[1]) if len(lines) > 1 and lines[1].isdigit() else None
