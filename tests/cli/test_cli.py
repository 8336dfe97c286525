"""The command line, driven in-process: JSON contract, exit codes, one-line errors."""

import json
import string
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from parcelguard.cli import app
from tests.conftest import recent_waybills
from tests.vault.test_sender_file import as_raw, csv_text

runner = CliRunner()


def invoke(env: dict[str, str], *args: str):
    return runner.invoke(app, list(args), env=env, catch_exceptions=False)


def last_json(output: str) -> dict[str, object]:
    return json.loads(output.strip().splitlines()[-1])


def test_init_then_put_then_stats_then_shred(env: dict[str, str], tmp_path: Path) -> None:
    result = invoke(env, "init", "--json")
    assert result.exit_code == 0, result.stderr
    assert "schema" in last_json(result.stdout)["created"]  # type: ignore[operator]
    batch = _before_and_during_today()
    path = tmp_path / "waybills.csv"
    path.write_text(csv_text([as_raw(w) for w in batch]), encoding="utf-8")

    put = invoke(env, "vault", "put", str(path), "--json")
    assert put.exit_code == 0, put.stderr
    assert last_json(put.stdout)["waybills"] == 30

    stats = last_json(invoke(env, "vault", "stats", "--json").stdout)
    assert stats["waybills"] == 30
    assert stats["data_keys"] >= 2  # type: ignore[operator]

    from parcelguard.core.clock import today

    shred = invoke(env, "vault", "shred", "--before", today().isoformat(), "--json")
    assert shred.exit_code == 0, shred.stderr
    shredded = last_json(shred.stdout)["waybills_shredded"]
    assert 0 < shredded < 30  # type: ignore[operator]
    stats = last_json(invoke(env, "vault", "stats", "--json").stdout)
    assert stats["shredded_waybills"] == shredded


def test_a_bad_file_exits_2_with_one_line_on_stderr(env: dict[str, str], tmp_path: Path) -> None:
    invoke(env, "init")
    batch = recent_waybills(3)
    rows = [as_raw(w) for w in batch]
    rows[2]["recipient_phone"] = "99"
    path = tmp_path / "bad.csv"
    path.write_text(csv_text(rows), encoding="utf-8")
    result = invoke(env, "vault", "put", str(path), "--json")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"parcelguard: {path}:4: recipient_phone is not a Chinese")
    error = last_json(result.stdout)
    assert error["ok"] is False
    assert error["error"]["problems"][0]["code"] == "invalid_phone"  # type: ignore[index]
    assert "Traceback" not in result.stderr + result.stdout
    for w in batch:
        assert w.recipient_name not in result.stderr + result.stdout


def test_a_bad_date_is_bad_input(env: dict[str, str]) -> None:
    invoke(env, "init")
    result = invoke(env, "vault", "shred", "--before", "2026-02-30")
    assert result.exit_code == 2
    assert (
        result.stderr.strip() == "parcelguard: --before 2026-02-30: not a date (write YYYY-MM-DD)"
    )


def test_an_uninitialised_store_fails_with_advice(env: dict[str, str]) -> None:
    result = invoke(env, "vault", "stats")
    assert result.exit_code == 1
    assert "run `parcelguard init`" in result.stderr


def test_doctor_json(env: dict[str, str]) -> None:
    invoke(env, "init")
    report = last_json(invoke(env, "doctor", "--json").stdout)
    assert report["problems"] == []
    assert report["keys"]["index_key"] == "ok"  # type: ignore[index]


def test_an_unreachable_database_exits_1(tmp_path: Path, kek: str) -> None:
    env = {
        "PARCELGUARD_HOME": str(tmp_path),
        "PARCELGUARD_DB": "postgresql+psycopg://postgres@127.0.0.1:1/none",
        "PARCELGUARD_KEK": kek,
    }
    result = invoke(env, "vault", "stats", "--json")
    assert result.exit_code == 1
    assert "cannot connect" in result.stderr
    assert last_json(result.stdout)["error"]["code"] == "store_unavailable"  # type: ignore[index]


def test_a_bad_environment_variable_is_named(tmp_path: Path) -> None:
    env = {"PARCELGUARD_HOME": str(tmp_path), "PARCELGUARD_RETENTION_DAYS": "ninety"}
    result = invoke(env, "vault", "stats")
    assert result.exit_code == 2
    assert "PARCELGUARD_RETENTION_DAYS" in result.stderr


def test_the_demo_tells_every_chapter(env: dict[str, str], tmp_path: Path) -> None:
    """One full run per backend (each takes minutes): on PostgreSQL in English as JSON, on
    SQLite (which runs everywhere) in Chinese as the story with its figures written beside
    it (``--summary``)."""
    if env["PARCELGUARD_DB"].startswith("postgresql"):
        result = invoke(env, "demo", "--no-serve", "--json", "--lang", "en")
        assert result.exit_code == 0, result.stderr
        summary = last_json(result.stdout)
    else:
        written = tmp_path / "summary.json"
        result = invoke(env, "demo", "--no-serve", "--lang", "zh", "--summary", str(written))
        assert result.exit_code == 0, result.stderr
        the_story_in_chinese(result.stdout)
        summary = json.loads(written.read_text(encoding="utf-8"))
        assert summary["ok"] is True
    assert summary["chapter"] == "vault"
    assert summary["put"]["waybills"] > 0  # type: ignore[index]
    assert summary["shred"]["keys_destroyed"] >= 1  # type: ignore[index]
    assert summary["blind_index_matches"] >= 1  # type: ignore[operator]
    if env["PARCELGUARD_DB"].startswith("sqlite"):
        assert summary["plaintext_found_in_files"] == 0
    insiders = summary["simulation"]["insiders"]  # type: ignore[index]
    assert len(insiders) == 4  # harvester, revealer, broker, the broker's recruit
    assert summary["simulation"]["records_taken"] > 500  # type: ignore[index]
    assert sorted(i["records"] for i in insiders)[0] == 0  # the harvester only searched
    audit = summary["audit"]
    assert audit["proof_verified"] is True  # type: ignore[index]
    assert audit["tamper_verified_internally"] is True  # type: ignore[index]
    assert "fork" in audit["witness_alarm"]  # type: ignore[index]
    door = summary["reveal"]
    # Every reveal decision is audited, and so is every containment the guard made.
    assert door["audit_entries"] == door["reveal_requests"] + door["containments"]  # type: ignore[index]
    assert door["containments"] >= 1  # type: ignore[index]
    assert door["buyer_call_connected"] is False  # type: ignore[index]
    assert door["honest_allowed_ratio"] > 0.9  # type: ignore[index]
    clerk = next(i for i in door["insiders"] if i["requests"] > 100 and i["allowed"] == 0)  # type: ignore[index]
    assert clerk["denied"]["no_matching_policy"] > 100  # the list-driven lookups
    case_told_twice(summary["case_twice"])  # type: ignore[arg-type]
    detection_over_the_month(summary["detection"])  # type: ignore[arg-type]
    leak_traced(summary["leak"])  # type: ignore[arg-type]


def leak_traced(chapter: dict[str, Any]) -> None:
    """Chapter 7: the case's file for sale, counted as its seller's truth, traced to both."""
    import re

    truth, ingest = chapter["file"]["truth"], chapter["ingest"]
    assert truth["encoding"] == "gbk"
    assert ingest["encoding"]["name"] in ("gbk", "gb18030")
    assert ingest["rows_read"] == truth["rows"]
    assert ingest["person_records"] == truth["persons"]
    assert ingest["virtual_number_records"] == truth["virtual_number_records"]
    assert ingest["duplicates_excluded"] > 0
    assert ingest["rows_rejected"]["total"] > 0  # the untrue rows
    assert chapter["match"]["matched_persons"] > 100
    assert chapter["both_named"] is True
    named = {s["employee_id"]: s for s in chapter["sources"]}
    for who, role in (
        (chapter["case_clerk"], "warehouse_clerk"),
        (chapter["case_courier"], "courier"),
    ):
        assert named[who]["role"] == role
        low, share, high = (
            named[who][k] for k in ("alone_share_low", "alone_share", "alone_share_high")
        )
        assert 0 < low < share < high < 1
    assert chapter["evidence_verified"] is True
    assert chapter["evidence_entries"] > 100
    assert chapter["legal"]["file_severity"] in ("none", "serious", "especially_serious")
    assert set(chapter["legal"]["accounts"]) == set(named)
    text = json.dumps({k: v for k, v in chapter.items() if k != "file"}, ensure_ascii=False)
    assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", text)  # no mobile number


def case_told_twice(case: dict[str, Any]) -> None:
    """Chapter 5: the same world live in both regimes, and the courier linked to the clerk."""
    clerk = case["clerk"]
    assert clerk["role"] == "warehouse_clerk"
    # Legacy: thousands of records over weeks, as happened.
    assert clerk["legacy_records"] >= 1_000
    assert clerk["legacy_days"] >= 28
    assert case["legacy_records_obtained"] > clerk["legacy_records"]  # the other accounts too
    # Guarded: under the lowest criminal threshold, stopped by the door.
    assert clerk["guarded_records_before_containment"] < 50
    assert clerk["guarded_records"] < 50
    assert clerk["contained"] is True  # after a handful of refused lookups, with the alert
    assert clerk["minutes_to_containment"] is not None
    assert clerk["guarded_requests"] < 50
    assert clerk["alert"]["reasons"]
    assert case["guarded_records_obtained"] < 50 * len(case["insiders"])
    assert case["guarded_honest_contained"] == 0
    # The link: one courier holds her list, far beyond chance, from the whole list and from
    # the handful the guarded door saw.
    link = case["link"]
    roles = {row["employee_id"]: row["role"] for row in case["insiders"]}
    assert link["legacy"]["named"] == [link["linked"]]
    for regime in ("legacy", "guarded"):  # the handful the guarded door saw is a lead
        top = link[regime]["ranked"][0]
        assert top["holder_id"] == link["linked"], regime
        assert top["share"] >= 0.9
        assert top["lift"] >= 10
    assert link["legacy"]["unknown"] > 0  # other carriers' numbers on her list
    assert roles[link["harvester_truth"]] == "courier"
    assert link["linked_is_harvester"] is True  # the courier who holds the seller's waybills


def detection_over_the_month(chapter: dict[str, Any]) -> None:
    """Chapter 6: the month detected, the case's pair named, the evaluation with baselines."""
    import re

    world = chapter["world"]
    assert world["days"] == 30
    assert world["scenarios"] == ["jingzhou-2016"]
    assert chapter["events_read"] > 100_000
    evaluation = chapter["evaluation"]
    case = evaluation["case"]
    clerk, courier = case["clerk"], case["courier"]
    # The case's clerk and its harvester among the alerts, each with reasons a person acts on.
    top = {a["employee_id"]: a for a in chapter["top"]}
    assert clerk in top
    assert courier in top
    assert top[clerk]["role"] == "warehouse_clerk"
    assert top[courier]["role"] == "courier"
    for alert in (top[clerk], top[courier]):
        assert alert["score"] > 0.5
        for reason in alert["reasons"]:
            assert {"code", "value", "baseline", "window"} <= set(reason)
    assert "holds_revealed_list" in {r["code"] for r in top[courier]["reasons"]}
    # The pair: the collusion detector names the courier behind the clerk's lookups.
    pair = chapter["pair"]
    assert (pair["revealer"], pair["holder"]) == (clerk, courier)
    assert pair["is_case_pair"] is True
    assert courier in pair["detail"]
    assert pair["of"] > 100
    assert pair["held"] >= 0.9 * pair["of"]
    assert pair["expected"] < pair["held"] / 5
    assert pair["holder_own_unexplained"] == 0  # named without a suspect lookup of his own
    # The evaluation table, with every baseline on the same world.
    assert set(evaluation["baselines"]) == {"pyod_iforest", "pyod_ecod", "volume_threshold"}
    for figures in [evaluation["detectors"], *evaluation["baselines"].values()]:
        for key in ("accounts_detected", "precision_at_10", "false_per_10k_employee_days"):
            assert key in figures
    accounts = {row["employee_id"]: row for row in evaluation["accounts"]}
    assert len(accounts) == evaluation["labelled_accounts"] == 4
    assert accounts[clerk]["detected"] is True
    assert accounts[clerk]["records_by_then"] < accounts[clerk]["records_total"]
    assert case["both_within_24h"] is True
    assert evaluation["detectors"]["false_per_10k_employee_days"] <= 1
    # No plaintext personal data: the events format has none, and nothing looks like it.
    text = json.dumps(chapter, ensure_ascii=False)
    assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", text)  # a mainland mobile number
    assert "recipient" not in text


def test_a_summary_into_a_missing_folder_is_refused_before_the_story(
    env: dict[str, str], tmp_path: Path
) -> None:
    target = tmp_path / "nowhere" / "summary.json"
    result = invoke(env, "demo", "--no-serve", "--summary", str(target), "--json")
    assert result.exit_code == 2
    assert f"--summary {target}: the folder" in result.stderr
    assert last_json(result.stdout)["error"]["code"] == "bad_input"  # type: ignore[index]
    assert not target.parent.exists()
    result = invoke(env, "demo", "--no-serve", "--summary", str(tmp_path))
    assert result.exit_code == 2
    assert f"--summary {tmp_path}: is a folder" in result.stderr


def the_story_in_chinese(stdout: str) -> None:
    """The chapters told in Chinese, their titles and conclusions."""
    assert "数据保险库" in stdout
    assert "粉碎" in stdout
    assert "第五章：同一个世界，荆州案讲两遍" in stdout
    assert "旧体制：仓管员" in stdout
    assert "关联（旧体制审计中的全部清单）：快递员" in stdout
    flat = stdout.replace("\n", "")  # rich wraps long lines anywhere in Chinese
    chapter = flat[flat.index("第六章：对仿真的一个月做批量检测") :]
    assert "这一对：" in chapter
    assert "认定的配对正是本案的两人" in chapter
    leak = flat[flat.index("第七章：泄露的文件，追溯到背后的账号") :]
    assert "导入计数一致" in leak
    assert "两人均被认定" in leak
    assert "仅凭日志公钥离线校验证据" in leak
    for method in ("孤立森林", "ECOD", "量阈值"):  # the baselines, in the evaluation table
        assert method in chapter


def test_every_demo_line_is_written_in_both_languages() -> None:
    from parcelguard.cli.demo import TEXT
    from parcelguard.cli.demo_leak import TEXT as LEAK_TEXT

    assert not set(TEXT) & set(LEAK_TEXT)
    for key, text in {**TEXT, **LEAK_TEXT}.items():
        assert set(text) == {"en", "zh"}, key
        assert all(value.strip() for value in text.values()), key
        fields = [
            {name for _, name, _, _ in string.Formatter().parse(text[lang]) if name}
            for lang in ("en", "zh")
        ]
        assert fields[0] == fields[1], key  # the same figures in both


def test_every_command_names_a_bad_environment_variable(tmp_path: Path) -> None:
    env = {"PARCELGUARD_HOME": str(tmp_path), "PARCELGUARD_NONCE_BUDGET": "-1"}
    path = tmp_path / "x.csv"
    path.write_text("x\n", encoding="utf-8")
    for args in (
        ["init"],
        ["doctor"],
        ["vault", "put", str(path)],
        ["vault", "shred"],
        ["demo", "--no-serve"],
    ):
        result = invoke(env, *args)
        assert result.exit_code == 2, args
        assert "PARCELGUARD_NONCE_BUDGET: must be positive" in result.stderr, args


def test_errors_carry_a_chinese_reading_in_zh(env: dict[str, str], tmp_path: Path) -> None:
    invoke(env, "init")
    rows = [as_raw(w) for w in recent_waybills(2)]
    rows[1]["recipient_phone"] = "99"
    path = tmp_path / "bad.csv"
    path.write_text(csv_text(rows), encoding="utf-8")
    result = invoke(env, "vault", "put", str(path), "--lang", "zh")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "recipient_phone is not a Chinese mobile number" in result.stderr
    assert "不是有效的中国大陆手机号" in result.stderr


def _before_and_during_today() -> list[Any]:
    """15 waybills of two days ago and 15 of the carrier's today, whatever the hour.

    Why not ``recent_waybills``: over the last 48 hours, just after midnight in Beijing
    (16:00 UTC) hardly any of them fall in the carrier's new day, and shredding every day
    before today took all 30.
    """
    from datetime import UTC, datetime, time, timedelta

    from parcelguard.core.clock import CARRIER_TZ, today
    from parcelguard.simulate.recipients import synthetic_waybills

    now = datetime.now(UTC)
    day_start = datetime.combine(today(), time(0), CARRIER_TZ).astimezone(UTC)
    start = max(day_start, now - timedelta(minutes=10))
    old = synthetic_waybills(15, seed=7, start=now - timedelta(hours=47), span=timedelta(hours=1))
    new = synthetic_waybills(
        15, seed=8, start=start, span=max(now - start, timedelta(seconds=1)), first_serial=15
    )
    return [*old, *new]
