"""The case report: files written whole, evidence that verifies offline, the legal figures
counted the way Art. 5 and 11 say, and no personal data anywhere in it."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from parcelguard.audit.evidence import verify_bundle
from parcelguard.config import Settings
from parcelguard.core.errors import BadInput
from parcelguard.core.masking import mask_phone
from parcelguard.forensics.case import CaseDir
from parcelguard.forensics.report import (
    EVIDENCE_JSON,
    LOG_KEY,
    REPORT_JSON,
    REPORT_PDF,
    legal_inputs,
    write_case_report,
)
from parcelguard.legal import Category
from tests.forensics.leak_world import LeakWorld, after_last, build, persons, run, unrevealed
from tests.labels.pdf import everything, shown_text

NOW = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LeakWorld, CaseDir]]:
    """One world and one matched case for the module (building the world is the slow part)."""
    from parcelguard.admin import initialise

    root = tmp_path_factory.mktemp("report")
    kek = base64.b64encode(secrets.token_bytes(32)).decode()
    env = {"PARCELGUARD_HOME": str(root / "home"), "PARCELGUARD_KEK": kek}
    settings = Settings.from_env(env)
    initialise(settings)
    world = build(settings)
    first_seen = after_last(world.phone_reveals(world.clerk) + world.phone_reveals(world.courier))
    leaked = sorted(
        world.revealed(world.clerk, first_seen) | world.revealed(world.courier, first_seen)
    )
    nobody = unrevealed(world, 10, first_seen)
    run(world, persons(world, leaked + nobody, strangers=20), first_seen, name="jingzhou")
    case = CaseDir.under(settings.home, "jingzhou")
    ingest = case.read_json(case.case_file)
    ingest.update(
        {
            "rows_read": len(leaked) + len(nobody) + 20 + 7,
            "person_records": len(leaked) + len(nobody) + 20,
            "duplicates_excluded": 5,
            "untrue_excluded": 2,
            "source": {"file_name": "jingzhou.csv", "bytes": 1, "sha256": "0" * 64},
        }
    )
    case.write_json(case.case_file, ingest)
    yield world, case
    world.engine.dispose()


def test_the_report_names_the_sources_and_its_evidence_verifies_offline(
    home: tuple[LeakWorld, CaseDir], tmp_path: Path
) -> None:
    world, case = home
    written = write_case_report(world.settings, case, tmp_path / "out", now=NOW)
    out = tmp_path / "out"
    assert {p.name for p in out.iterdir()} == {
        REPORT_JSON,
        REPORT_PDF,
        EVIDENCE_JSON,
        LOG_KEY,
        "legal-case.json",
    }
    report = json.loads((out / REPORT_JSON).read_text(encoding="utf-8"))
    sources = report["attribution"]["sources"]
    assert {world.clerk, world.courier} <= set(sources)
    assert [s["employee_id"] for s in written.sources] == sources

    key = (out / LOG_KEY).read_text().strip()
    evidence = verify_bundle((out / EVIDENCE_JSON).read_text(), key)
    wanted = {
        s
        for a in report["attribution"]["accounts"]
        if a["employee_id"] in sources
        for s in a["evidence_sequences"]
    }
    assert {entry.sequence for entry in evidence.entries} == wanted
    assert report["evidence"]["entries"] == len(wanted) == written.evidence_entries
    assert {entry.actor for entry in evidence.entries} <= set(sources)

    shown = " ".join(shown_text((out / REPORT_PDF).read_bytes()))
    for who in (world.clerk, world.courier):
        assert who in shown
    assert "泄露案件报告" in shown
    assert "Leak case report" in shown


def test_the_legal_figures_follow_art_5_and_11(
    home: tuple[LeakWorld, CaseDir], tmp_path: Path
) -> None:
    world, case = home
    write_case_report(world.settings, case, tmp_path, now=NOW)
    report = json.loads((tmp_path / REPORT_JSON).read_text(encoding="utf-8"))
    legal = report["legal"]
    assert legal["category"] == "general"
    counted = report["ingest"]["person_records"]
    line = legal["assessment"]["arithmetic"]["categories"][0]
    assert (line["seized"], line["proven_duplicate"], line["proven_untrue"]) == (
        counted + 7,
        5,
        2,
    )
    assert line["counted"] == counted
    assert line["serious_threshold"] == 5_000
    assert legal["assessment"]["severity"] == "none"  # a few hundred general records
    for account in report["attribution"]["accounts"]:
        if account["employee_id"] not in report["attribution"]["sources"]:
            continue
        theirs = legal["accounts"][account["employee_id"]]
        assert theirs["arithmetic"]["halved_for_duties"] is True
        assert theirs["arithmetic"]["categories"][0]["serious_threshold"] == 2_500
        assert theirs["arithmetic"]["categories"][0]["counted"] == account["revealed"]
    assert (
        json.loads((tmp_path / "legal-case.json").read_text(encoding="utf-8"))
        == (legal["inputs"]["file"])
    )


def test_the_investigator_can_change_the_category_and_add_facts(
    home: tuple[LeakWorld, CaseDir], tmp_path: Path
) -> None:
    world, case = home
    written = write_case_report(
        world.settings,
        case,
        tmp_path / "o",
        category="other_sensitive",
        facts={"illegal_gains_yuan": 6000},
        now=NOW,
    )
    report = json.loads((tmp_path / "o" / REPORT_JSON).read_text(encoding="utf-8"))
    assert report["legal"]["category"] == "other_sensitive"
    assert "--category" in report["legal"]["category_reason"]["en"]
    assert written.severity == report["legal"]["assessment"]["severity"] == "serious"


@pytest.mark.parametrize(
    ("category", "facts", "problem"),
    [
        ("gossip", None, "--category gossip: not a category"),
        (None, [1], "not a JSON object of facts"),
        (None, {"records": {}}, "records come from the case"),
        (None, {"bribes": True}, "unknown fact bribes"),
        (None, {"illegal_gains_yuan": "8000"}, "illegal_gains_yuan"),
    ],
)
def test_bad_options_are_refused_by_name_and_leave_an_earlier_report_whole(
    home: tuple[LeakWorld, CaseDir],
    tmp_path: Path,
    category: str | None,
    facts: object,
    problem: str,
) -> None:
    world, case = home
    out = tmp_path / "out"
    write_case_report(world.settings, case, out, now=NOW)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(BadInput, match=problem):
        write_case_report(
            world.settings,
            case,
            out,
            category=category,
            facts=facts,
            now=datetime(2031, 1, 1, tzinfo=UTC),
        )
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_an_unknown_case_or_an_out_that_is_a_file_is_refused(
    home: tuple[LeakWorld, CaseDir], tmp_path: Path
) -> None:
    world, _ = home
    with pytest.raises(BadInput, match="leak ingest"):
        write_case_report(
            world.settings, CaseDir.under(world.settings.home, "nope"), tmp_path, now=NOW
        )
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(BadInput, match="not a directory"):
        write_case_report(world.settings, home[1], blocker, now=NOW)


def test_no_phone_or_name_of_a_recipient_is_in_any_file_of_the_report(
    home: tuple[LeakWorld, CaseDir], tmp_path: Path
) -> None:
    world, case = home
    write_case_report(world.settings, case, tmp_path, now=NOW)
    blobs = [everything(p.read_bytes()) for p in tmp_path.iterdir()]
    text = "\n".join(" ".join(shown_text(p.read_bytes())) for p in tmp_path.glob("*.pdf"))
    for w in list(world.recipients.values())[:300]:
        for value in (w.recipient_phone, w.recipient_name, w.recipient_address):
            assert not any(value.encode() in blob for blob in blobs)
            assert value not in text
        assert mask_phone(w.recipient_phone) not in text


def test_legal_inputs_count_each_source_as_obtained_in_duties() -> None:
    attribution = {
        "sources": ["E1"],
        "accounts": [
            {"employee_id": "E1", "revealed": 60},
            {"employee_id": "E2", "revealed": 3},
        ],
    }
    inputs = legal_inputs(
        {
            "person_records": 100,
            "virtual_number_records": 7,
            "duplicates_excluded": 4,
            "untrue_excluded": 1,
        },
        {"canary_persons": 2},
        attribution,
        Category.TRANSACTION,
        {"illegal_gains_yuan": 100},
    )
    # Virtual-number records are records (name and address with the number); canaries are not.
    assert inputs == {
        "file": {
            "records": {"transaction": {"seized": 110, "proven_duplicate": 4, "proven_untrue": 1}},
            "illegal_gains_yuan": 100,
        },
        "account:E1": {"records": {"transaction": 60}, "obtained_in_duties": True},
    }
    with pytest.raises(BadInput, match="person_records must be a whole number"):
        legal_inputs({"person_records": "lots"}, {}, attribution, Category.GENERAL, {})


def test_a_match_older_than_the_case_is_made_again(
    home: tuple[LeakWorld, CaseDir], tmp_path: Path
) -> None:
    world, case = home
    ingest = case.read_json(case.case_file)
    stale = case.read_json(case.match_file)
    stale["attribution"]["sources"] = []
    stale["attribution"]["accounts"] = []
    case.write_json(case.match_file, stale)
    case.write_json(case.case_file, ingest)  # re-ingested after the match
    written = write_case_report(world.settings, case, tmp_path, now=NOW)
    assert world.clerk in [s["employee_id"] for s in written.sources]
