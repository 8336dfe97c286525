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
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
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


def check_facts(facts: object, where: str = "--facts") -> dict[str, object]:
    """The investigator's facts (a JSON object of 法释〔2017〕10号 facts, no ``records``).

    Checked by the legal rules' own reader before anything is written, so a bad fact never
    leaves a half-written report behind.
    """
    if facts is None:
        return {}
    if not isinstance(facts, dict):
        raise BadInput(f"{where}: not a JSON object of facts")
    if "records" in facts:
        raise BadInput(f"{where}: records come from the case; give only facts")
    LegalCase.from_json_obj({"records": {}, **facts}, where=where)
    return dict(facts)


def legal_inputs(
    ingest: Mapping[str, Any],
    match: Mapping[str, Any],
    attribution: Mapping[str, Any],
    category: Category,
    facts: Mapping[str, object],
) -> dict[str, dict[str, object]]:
    """The legal inputs: the whole file, and each named source account.

    The file's count is Art. 11 para. 3's: what was seized, less the duplicates and untrue
    records the ingest proved. A record known by a virtual number (a name and an address with
    it) is a record too, neither duplicate nor untrue; canaries are bait, not records. An
    account's count is the leaked records it revealed, obtained in performing its duties; the
    case's facts (the seller's gains, a buyer's crimes) are the file's and are not assumed of
    any account, whose own facts an investigator assesses with ``legal assess``.
    """
    counted = (
        _count(ingest, "person_records")
        + _count(ingest, "virtual_number_records")
        - min(_count(match, "canary_persons"), _count(ingest, "virtual_number_records"))
    )
    duplicates = _count(ingest, "duplicates_excluded")
    untrue = _count(ingest, "untrue_excluded")
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
    sources = set(_list(attribution, "sources"))
    for account in _list(attribution, "accounts"):
        if not isinstance(account, Mapping) or account.get("employee_id") not in sources:
            continue
        inputs[f"account:{account['employee_id']}"] = {
            "records": {category.value: _count(account, "revealed")},
            "obtained_in_duties": True,
        }
    return inputs


def _count(data: Mapping[str, Any], key: str) -> int:
    """A count from a case file, or a BadInput naming it (a case file may be hand-edited)."""
    value = data.get(key) or 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BadInput(f"case: {key} must be a whole number of records, not {value!r}")
    return value


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise BadInput(f"case: {key} must be a list")
    return value


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
    attribution = _mapping(findings, "attribution")
    inputs = legal_inputs(ingest, _mapping(findings, "match"), attribution, category, facts)
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


def _mapping(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key) or {}
    if not isinstance(value, Mapping):
        raise BadInput(f"case: {key} must be a JSON object (run leak match again)")
    return value


def evidence_sequences(attribution: Mapping[str, Any]) -> tuple[list[int], int]:
    """The named sources' evidence entries (at most MAX_EVIDENCE_ENTRIES) and how many more."""
    sources = set(_list(attribution, "sources"))
    wanted: set[int] = set()
    groups = [a for a in _list(attribution, "accounts") if a.get("employee_id") in sources]
    for group in [*groups, *_list(attribution, "canaries")]:
        for sequence in _list(group, "evidence_sequences"):
            if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 0:
                raise BadInput(
                    "case: an evidence sequence is not an entry index (run leak match again)"
                )
            wanted.add(sequence)
    ordered = sorted(wanted)
    return ordered[:MAX_EVIDENCE_ENTRIES], max(0, len(ordered) - MAX_EVIDENCE_ENTRIES)


def write_case_report(
    settings: Settings,
    case: CaseDir,
    out_dir: Path,
    *,
    category: str | None = None,
    facts: object = None,
    now: datetime,
    rematch: bool = False,
) -> WrittenReport:
    """Write report.json, report.pdf, legal-case.json, evidence.json and the log's key.

    Everything is checked first and written into a staging folder beside ``out_dir``; only
    when every file is whole are they moved in, one rename each, so a failure leaves
    ``out_dir`` as it was.
    """
    from parcelguard.admin import log_signer, open_audit_log
    from parcelguard.forensics.attribute import match_case
    from parcelguard.forensics.report_pdf import write_report_pdf

    case.require()
    chosen = category_of(category)
    checked = check_facts(facts)
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInput(f"--out {out_dir}: exists and is not a directory")
    ingest = case.read_json(case.case_file)
    findings: Mapping[str, Any]
    if rematch or _match_is_stale(case, ingest):
        findings = match_case(settings, case).as_dict()
    else:
        findings = case.read_json(case.match_file)

    attribution = _mapping(findings, "attribution")
    sequences, left_out = evidence_sequences(attribution)
    signer = log_signer(settings)
    evidence: dict[str, object] = {
        "file": EVIDENCE_JSON if sequences else None,
        "entries": len(sequences),
        "entries_left_out": left_out,
        "origin": settings.log_origin,
        "verifier_key_file": LOG_KEY,
        "tree_size": None,
    }
    texts: dict[str, bytes] = {LOG_KEY: (signer.verifier_key() + "\n").encode()}
    if sequences:
        log = open_audit_log(settings)
        try:
            bundle = log.bundle(sequences, signer, settings.log_origin, now)
        finally:
            log.engine.dispose()
        evidence["tree_size"] = _tree_size(bundle)
        texts[EVIDENCE_JSON] = (json.dumps(bundle, indent=2) + "\n").encode()
    report = build_report(
        case,
        ingest,
        findings,
        category=chosen,
        category_chosen=category is not None,
        facts=checked,
        evidence=evidence,
        generated_at=now,
    )
    legal = report["legal"]
    assert isinstance(legal, dict)
    texts[LEGAL_CASE_JSON] = _json_bytes(legal["inputs"]["file"])
    texts[REPORT_JSON] = _json_bytes(report)
    _publish(out_dir, texts, lambda staging: write_report_pdf(report, staging / REPORT_PDF))

    files = {
        "report_json": REPORT_JSON,
        "report_pdf": REPORT_PDF,
        "legal_case": LEGAL_CASE_JSON,
        "log_key": LOG_KEY,
    }
    if sequences:
        files["evidence"] = EVIDENCE_JSON
    sources = set(_list(attribution, "sources"))
    named = tuple(
        {
            key: account.get(key)
            for key in ("employee_id", "role", "site_id", "alone_share", "share")
        }
        for account in _list(attribution, "accounts")
        if account.get("employee_id") in sources
    )
    return WrittenReport(
        out_dir=out_dir,
        files=files,
        severity=str(legal["assessment"]["severity"]),
        sources=named,
        evidence_entries=len(sequences),
    )


def _match_is_stale(case: CaseDir, ingest: Mapping[str, Any]) -> bool:
    """Whether match.json is missing or older than the case it was made from.

    Re-ingesting a case (a new first_seen, a corrected file) rewrites case.json and
    persons.parquet; a match made before that would count reveals against the wrong moment.
    """
    if not case.match_file.is_file():
        return True
    made = case.match_file.stat().st_mtime_ns
    if any(p.stat().st_mtime_ns > made for p in (case.case_file, case.persons_file) if p.exists()):
        return True
    return case.read_json(case.match_file).get("first_seen") != ingest.get("first_seen")


def _json_bytes(data: object) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n").encode()


def _publish(out_dir: Path, texts: Mapping[str, bytes], draw: Callable[[Path], None]) -> None:
    """Write every file into a staging folder, then rename each into ``out_dir``."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=out_dir, prefix=".staging-"))
    except OSError as exc:
        raise BadInput(f"--out {out_dir}: cannot write there ({exc.strerror})") from None
    try:
        for name, data in texts.items():
            write_atomically(staging / name, data)
        draw(staging)
        for path in sorted(staging.iterdir()):
            os.replace(path, out_dir / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _tree_size(bundle: Mapping[str, object]) -> int | None:
    """The checkpoint's tree size: the second line of the signed note."""
    note = bundle.get("checkpoint")
    if not isinstance(note, str):
        return None
    lines = note.splitlines()
    return int(lines[1]) if len(lines) > 1 and lines[1].isdigit() else None
