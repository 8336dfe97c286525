"""The whole forensic path through the real CLI, in process: a messy GBK file "found on the
black market" → ``leak ingest`` → ``leak report`` → ``audit verify-bundle`` offline.

The file is made of the recipients the Jingzhou case's clerk and courier revealed, plus other
carriers' customers, duplicates and untrue rows; what each step must find is counted here
from the simulator's own truth and access rows, independently of the code under test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from parcelguard.cli.app import app
from parcelguard.core.phone import normalise_cn_mobile
from parcelguard.simulate.leak_file import LeakFileOptions, LeakRecord, synthetic_records
from parcelguard.simulate.leak_file import write_leak_file as write_file
from tests.forensics.leak_world import LeakWorld, after_last

runner = CliRunner()


def last_json(stdout: str) -> dict[str, object]:
    return json.loads(stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_a_seized_file_is_traced_to_the_clerk_and_the_courier_with_proofs(
    world: LeakWorld, tmp_path: Path
) -> None:
    first_seen = after_last(world.phone_reveals(world.clerk) + world.phone_reveals(world.courier))
    leaked = sorted(
        world.revealed(world.clerk, first_seen) | world.revealed(world.courier, first_seen)
    )
    ours = [
        LeakRecord(
            name=world.recipients[no].recipient_name,
            phone=world.recipients[no].recipient_phone,
            address=world.recipients[no].recipient_address,
        )
        for no in leaked
    ]
    strangers = synthetic_records(30, seed=4, waybill_share=0.0)
    seized = tmp_path / "黑市样本.csv"
    truth = write_file(ours + strangers, seized, seed=3, options=LeakFileOptions(encoding="gbk"))

    done = runner.invoke(
        app,
        ["leak", "ingest", str(seized), "--case", "jz", "--json", "--first-seen", str(first_seen)],
    )
    assert done.exit_code == 0, done.stderr
    ingest = last_json(done.stdout)
    assert ingest["encoding"]["name"] in ("gbk", "gb18030")  # type: ignore[index]
    assert ingest["rows_read"] == truth.rows
    # Repeat recipients share a phone: one person however many of their waybills leaked; a
    # 170/171 subscriber looks like one of our virtual numbers and is counted apart.
    phones = {normalise_cn_mobile(r.phone) for r in ours + strangers}
    assert ingest["person_records"] == truth.persons
    assert ingest["virtual_number_records"] == truth.virtual_number_records
    assert truth.persons + truth.virtual_number_records == len(phones)

    out = tmp_path / "report"
    done = runner.invoke(app, ["leak", "report", "jz", "--out", str(out), "--json"])
    assert done.exit_code == 0, done.stderr
    written = last_json(done.stdout)
    named = [source["employee_id"] for source in written["sources"]]  # type: ignore[attr-defined]
    assert named[0] == world.clerk
    assert world.courier in named

    # Shares as the access rows give them: records only this account revealed, of all ours.
    revealers = {no: world.revealers(no, first_seen) for no in leaked}
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["match"]["matched_persons"] == len({r.phone for r in ours}), report["match"]
    for account in report["attribution"]["accounts"]:
        if account["employee_id"] in (world.clerk, world.courier):
            alone = sum(1 for them in revealers.values() if them == {account["employee_id"]})
            assert account["alone"] == alone
            assert account["alone_share"] == pytest.approx(alone / len(leaked), abs=1e-6)

    verified = runner.invoke(
        app,
        [
            "audit",
            "verify-bundle",
            str(out / "evidence.json"),
            "--pubkey",
            str(out / "log-key.txt"),
            "--json",
        ],
    )
    assert verified.exit_code == 0, verified.stderr
    assert last_json(verified.stdout)["ok"] is True

    assessed = runner.invoke(app, ["legal", "assess", str(out / "legal-case.json"), "--json"])
    assert assessed.exit_code == 0, assessed.stderr
    assert last_json(assessed.stdout)["severity"] == report["legal"]["assessment"]["severity"]

    for w in world.recipients.values():
        assert w.recipient_phone not in done.stdout
        assert w.recipient_name not in done.stdout


def test_report_of_an_unknown_case_says_how_to_make_one(world: LeakWorld, tmp_path: Path) -> None:
    done = runner.invoke(app, ["leak", "report", "nope", "--out", str(tmp_path / "r")])
    assert done.exit_code == 2
    assert "leak ingest" in done.stderr
    assert not (tmp_path / "r").exists()
