"""Demo chapter 7: the case's file turns up on the black market, and is traced back.

A small carrier is simulated with the Jingzhou case inside, put in a store of its own (the
vault with its recipients, the workflow, every access in the audit log). What the clerk and
the courier revealed is then "found for sale": the simulator writes it as sellers do, in GBK,
messy, padded with other carriers' customers, duplicates and untrue rows. The chapter ingests
it, matches it by blind index, names the accounts with the share each alone explains, writes
the report, verifies its evidence bundle offline with nothing but the log's public key, and
prints the legal assessment. Every figure comes from the product's own code; the world's
labels are read only to say whether the accounts named are the case's.
"""

from __future__ import annotations

import base64
import os
import tempfile
import time as clock
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from parcelguard.config import Settings

LEAK_DAYS = 4
LEAK_EMPLOYEES = 400
LEAK_WAYBILLS_PER_DAY = 10_000
"""40,000 waybills, 400 staff, four days: enough for the clerk to harvest a few hundred
recipients and for a courier's reveals to stand out, and small enough that the store, the
workflow and the audit log of every access are built in well under half a minute."""
LEAK_STRANGERS = 400
"""Other carriers' customers in the file: a sold list is merged from several sources."""
LEAK_SEED = 2016
SELLER_DELAY = timedelta(days=2)
"""The file surfaces two days after the insiders' last reveal: only reveals before it count."""

TEXT: dict[str, dict[str, str]] = {
    "leak_title": {
        "en": "Chapter 7: the leaked file, traced to the accounts behind it",
        "zh": "第七章：泄露的文件，追溯到背后的账号",
    },
    "leak_world": {
        "en": "   A carrier of {employees:,} staff and {waybills:,} waybills over {days} days, the "
        "Jingzhou case inside, in a store of its own: {entries:,} accesses in the audit log.",
        "zh": "   一家 {employees:,} 名员工、{days} 天 {waybills:,} 个运单的快递公司，内含荆州案，"
        "使用独立的存储：审计日志中有 {entries:,} 次访问。",
    },
    "leak_found": {
        "en": "   Found for sale: {file} ({size:,} bytes), first seen {first_seen}.",
        "zh": "   在黑市上发现出售的文件：{file}（{size:,} 字节），首次发现于 {first_seen}。",
    },
    "leak_ingest": {
        "en": "   Ingested in {seconds:.1f} s: encoding {encoding} ({decision}), {rows:,} data "
        "rows, {rejected:,} rejected, {duplicates:,} duplicates excluded, {persons:,} distinct "
        "persons and {virtual:,} virtual-number records (Art. 11).",
        "zh": "   导入用时 {seconds:.1f} 秒：编码 {encoding}（{decision}），{rows:,} 行数据，"
        "剔除 {rejected:,} 行，排除重复 {duplicates:,} 条，去重后 {persons:,} 名自然人、"
        "{virtual:,} 条隐私号记录（第十一条）。",
    },
    "leak_truth": {
        "en": "   The seller's truth (kept by the simulator): {rows:,} rows, {persons:,} persons, "
        "{virtual:,} virtual-number records: {verdict}.",
        "zh": "   卖家文件的真实情况（仿真器记录）：{rows:,} 行，{persons:,} 名自然人，"
        "{virtual:,} 条隐私号记录：{verdict}。",
    },
    "leak_truth_ok": {"en": "ingest counted the same", "zh": "导入计数一致"},
    "leak_truth_bad": {"en": "ingest counted differently", "zh": "导入计数不一致"},
    "leak_columns": {"en": "Columns as classified", "zh": "列识别结果"},
    "leak_col_index": {"en": "#", "zh": "#"},
    "leak_col_header": {"en": "header", "zh": "表头"},
    "leak_col_role": {"en": "role", "zh": "类型"},
    "leak_col_confidence": {"en": "confidence", "zh": "置信度"},
    "leak_match": {
        "en": "   Matched by blind index, nothing decrypted: {matched:,} of the {persons:,} "
        "persons are our recipients ({waybills:,} waybills), {strong:,} with name and phone "
        "agreeing; median age when leaked {median} days.",
        "zh": "   通过盲索引匹配，未解密任何数据：{persons:,} 名自然人中 {matched:,} 名是本公司的收件人"
        "（{waybills:,} 个运单），其中 {strong:,} 名姓名与电话均一致；泄露时记录的中位天数 {median} 天。",
    },
    "leak_accounts": {
        "en": "Accounts ranked by the share of leaked records they alone explain",
        "zh": "按单独解释的泄露记录份额排名的账号",
    },
    "leak_col_account": {"en": "account", "zh": "账号"},
    "leak_col_role2": {"en": "role", "zh": "岗位"},
    "leak_col_revealed": {"en": "revealed", "zh": "调阅"},
    "leak_col_alone": {"en": "alone", "zh": "单独解释"},
    "leak_col_share": {"en": "share alone (95%)", "zh": "单独份额（95%）"},
    "leak_col_source": {"en": "source", "zh": "来源"},
    "leak_named": {
        "en": "   Named as sources: {named}. The world's labels: the clerk is {clerk}, the "
        "courier {courier}: {verdict}.",
        "zh": "   认定的来源：{named}。世界标签：仓管员是 {clerk}，快递员是 {courier}：{verdict}。",
    },
    "leak_named_ok": {"en": "both named", "zh": "两人均被认定"},
    "leak_named_bad": {"en": "not both named", "zh": "未能同时认定两人"},
    "leak_unexplained": {
        "en": "   {unexplained:,} matched records no account explains (revealed after the file "
        "appeared, or never).",
        "zh": "   {unexplained:,} 条匹配记录没有账号能解释（在文件出现之后才被调阅，或从未被调阅）。",
    },
    "leak_report": {
        "en": "   Report written: {files}.",
        "zh": "   报告已生成：{files}。",
    },
    "leak_verified": {
        "en": "   Evidence verified offline with the log's public key alone: {entries:,} audit "
        "entries, each with its inclusion proof in the signed tree of size {size:,}.",
        "zh": "   仅凭日志公钥离线校验证据：{entries:,} 条审计记录，每条都有其在大小为 {size:,} "
        "的签名树中的包含性证明。",
    },
    "leak_legal": {
        "en": "   Legal assessment (法释〔2017〕10号), waybill records counted as {category}: the "
        "whole file is {severity}.",
        "zh": "   法律评估（法释〔2017〕10号），运单记录按“{category}”计：整个文件{severity}。",
    },
    "leak_legal_account": {
        "en": "   {account}'s {records:,} records, obtained in the duties (standards halved): "
        "{severity}.",
        "zh": "   {account} 在履职中获取的 {records:,} 条记录（标准减半）：{severity}。",
    },
    "leak_reason": {"en": "      {clause}: {text}", "zh": "      {clause}：{text}"},
    "leak_time": {
        "en": "   The chapter ran in {seconds:.1f} s.",
        "zh": "   本章运行 {seconds:.1f} 秒。",
    },
}

_SEVERITY = {
    "none": {"en": "below “serious”", "zh": "未达“情节严重”"},
    "serious": {"en": "serious (情节严重)", "zh": "属“情节严重”"},
    "especially_serious": {
        "en": "especially serious (情节特别严重)",
        "zh": "属“情节特别严重”",
    },
}


def say(console: Console, key: str, lang: str, **values: object) -> None:
    console.print(TEXT[key][lang].format(**values), markup=False, highlight=False)


def leak_chapter(console: Console, lang: str) -> dict[str, object]:
    """Build the world, sell its leak, and trace it; returns the chapter's figures."""
    console.print(Panel(TEXT["leak_title"][lang], style="bold"))
    started = clock.perf_counter()
    with tempfile.TemporaryDirectory(prefix="parcelguard-leak-") as scratch:
        settings = Settings.from_env(
            {
                "PARCELGUARD_HOME": str(Path(scratch) / "home"),
                "PARCELGUARD_KEK": base64.b64encode(os.urandom(32)).decode(),
            }
        )
        result = _trace(console, lang, settings, Path(scratch))
    result["seconds"] = round(clock.perf_counter() - started, 1)
    say(console, "leak_time", lang, seconds=result["seconds"])
    return result


def _world(settings: Settings) -> tuple[dict[str, pa.Table], int]:
    """The simulated carrier in the store: vault, workflow, every access in the audit log."""
    from parcelguard.admin import initialise, key_provider, open_audit_log
    from parcelguard.simulate.into_store import audit_entries, put_world
    from parcelguard.simulate.run import simulate
    from parcelguard.simulate.workflow import put_workflow
    from parcelguard.simulate.world import WorldConfig
    from parcelguard.storage import connect_current

    initialise(settings)
    config = WorldConfig(
        seed=LEAK_SEED,
        days=LEAK_DAYS,
        employees=LEAK_EMPLOYEES,
        waybills_per_day=LEAK_WAYBILLS_PER_DAY,
    )
    tables = simulate(config, ["jingzhou-2016"])
    engine = connect_current(settings.db_url)
    try:
        put_workflow(engine, tables)
    finally:
        engine.dispose()
    put_world(tables, config.seed, settings, key_provider(settings))
    log = open_audit_log(settings)
    try:
        entries = audit_entries(tables["accesses"])
        log.append(entries)
    finally:
        log.engine.dispose()
    return tables, len(entries)


def _insiders(tables: dict[str, pa.Table]) -> tuple[str, str]:
    """The case's clerk and courier, from the labels (to tell the reader, never to detect)."""
    roles = dict(
        zip(
            tables["employees"]["employee_id"].to_pylist(),
            tables["employees"]["role"].to_pylist(),
            strict=True,
        )
    )
    case = [row["employee_id"] for row in tables["labels"].to_pylist()]
    clerk = next(e for e in case if roles[e] == "warehouse_clerk")
    courier = next(e for e in case if roles[e] == "courier")
    return clerk, courier


def _leaked(tables: dict[str, pa.Table], who: tuple[str, ...]) -> tuple[list[str], datetime]:
    """The waybills whose phone ``who`` revealed, and when the file first appears."""
    a = tables["accesses"]
    theirs = a.filter(
        pc.and_(
            pc.and_(pc.is_in(a["employee_id"], pa.array(who)), pc.equal(a["decision"], "allow")),
            pc.and_(
                pc.is_in(a["action"], pa.array(["reveal", "export"])),
                pc.equal(a["field"], "phone"),
            ),
        )
    )
    first_seen = pc.max(theirs["ts"]).as_py() + SELLER_DELAY
    return sorted(set(theirs["waybill_no"].to_pylist())), first_seen


def _trace(console: Console, lang: str, settings: Settings, scratch: Path) -> dict[str, Any]:
    from parcelguard.admin import open_vault
    from parcelguard.audit.evidence import verify_bundle
    from parcelguard.core.clock import utc_now
    from parcelguard.forensics.attribute import match_case
    from parcelguard.forensics.case import CaseDir
    from parcelguard.forensics.ingest import ingest_file
    from parcelguard.forensics.report import write_case_report
    from parcelguard.simulate.into_store import recipients_for
    from parcelguard.simulate.leak_file import (
        LeakFileOptions,
        LeakRecord,
        synthetic_records,
        write_leak_file,
    )

    tables, entries = _world(settings)
    say(
        console,
        "leak_world",
        lang,
        employees=tables["employees"].num_rows,
        waybills=tables["waybills"].num_rows,
        days=LEAK_DAYS,
        entries=entries,
    )
    clerk, courier = _insiders(tables)
    leaked, first_seen = _leaked(tables, (clerk, courier))
    recipients = {w.waybill_no: w for w in recipients_for(tables, LEAK_SEED)}
    records = [
        LeakRecord(
            name=recipients[no].recipient_name,
            phone=recipients[no].recipient_phone,
            address=recipients[no].recipient_address,
        )
        for no in leaked
    ] + synthetic_records(LEAK_STRANGERS, seed=LEAK_SEED, waybill_share=0.3)
    seized = scratch / "荆州-快递单-2016.csv"
    truth = write_leak_file(
        records, seized, seed=LEAK_SEED, options=LeakFileOptions(encoding="gbk")
    )
    say(
        console,
        "leak_found",
        lang,
        file=seized.name,
        size=seized.stat().st_size,
        first_seen=f"{first_seen:%Y-%m-%d %H:%M} UTC",
    )

    case = CaseDir.under(settings.home, "jingzhou-2016")
    with open_vault(settings) as vault:
        ingest: dict[str, Any] = ingest_file(
            seized, indexer=vault.blind_indexer, case=case, first_seen=first_seen
        ).as_dict()
    _show_ingest(console, lang, ingest, truth.rows, truth.persons, truth.virtual_number_records)

    findings: dict[str, Any] = match_case(settings, case).as_dict()
    match, attribution = findings["match"], findings["attribution"]
    say(
        console,
        "leak_match",
        lang,
        matched=match["matched_persons"],
        persons=match["persons"],
        waybills=match["matched_waybills"],
        strong=match["by_match_kind"].get("strong", 0),
        median=match["freshness_days"].get("median"),
    )
    _show_accounts(console, lang, attribution)
    named = list(attribution["sources"])
    both = clerk in named and courier in named
    say(
        console,
        "leak_named",
        lang,
        named=", ".join(named) or "-",
        clerk=clerk,
        courier=courier,
        verdict=TEXT["leak_named_ok" if both else "leak_named_bad"][lang],
    )
    say(console, "leak_unexplained", lang, unexplained=attribution["unexplained"])

    out = scratch / "report"
    written = write_case_report(settings, case, out, now=utc_now())
    say(console, "leak_report", lang, files=", ".join(sorted(written.files.values())))
    key = (out / "log-key.txt").read_text(encoding="utf-8").strip()
    evidence = verify_bundle((out / "evidence.json").read_text(encoding="utf-8"), key)
    say(
        console,
        "leak_verified",
        lang,
        entries=len(evidence.entries),
        size=evidence.tree_size,
    )
    legal = _show_legal(console, lang, out)
    return {
        "world": {
            "seed": LEAK_SEED,
            "days": LEAK_DAYS,
            "employees": tables["employees"].num_rows,
            "waybills": tables["waybills"].num_rows,
            "audit_entries": entries,
        },
        "file": {"bytes": seized.stat().st_size, "truth": truth.as_dict()},
        "ingest": {
            key: ingest[key]
            for key in (
                "rows_read",
                "rows_rejected",
                "person_records",
                "virtual_number_records",
                "duplicates_excluded",
                "untrue_excluded",
                "encoding",
                "columns",
                "seconds",
            )
        },
        "match": {
            key: match[key]
            for key in ("persons", "matched_persons", "matched_waybills", "by_match_kind")
        },
        "sources": [
            {
                key: account[key]
                for key in (
                    "employee_id",
                    "role",
                    "revealed",
                    "alone",
                    "alone_share",
                    "alone_share_low",
                    "alone_share_high",
                )
            }
            for account in attribution["accounts"]
            if account["employee_id"] in named
        ],
        "case_clerk": clerk,
        "case_courier": courier,
        "both_named": both,
        "evidence_verified": True,
        "evidence_entries": len(evidence.entries),
        "legal": legal,
    }


def _show_ingest(
    console: Console,
    lang: str,
    ingest: dict[str, Any],
    rows: int,
    persons: int,
    virtual: int,
) -> None:
    say(
        console,
        "leak_ingest",
        lang,
        seconds=ingest["seconds"],
        encoding=ingest["encoding"]["name"],
        decision=ingest["encoding"]["decision"],
        rows=ingest["rows_read"],
        rejected=ingest["rows_rejected"]["total"],
        duplicates=ingest["duplicates_excluded"],
        persons=ingest["person_records"],
        virtual=ingest["virtual_number_records"],
    )
    same = (ingest["rows_read"], ingest["person_records"], ingest["virtual_number_records"]) == (
        rows,
        persons,
        virtual,
    )
    say(
        console,
        "leak_truth",
        lang,
        rows=rows,
        persons=persons,
        virtual=virtual,
        verdict=TEXT["leak_truth_ok" if same else "leak_truth_bad"][lang],
    )
    table = Table(title=TEXT["leak_columns"][lang])
    for key in ("leak_col_index", "leak_col_header", "leak_col_role", "leak_col_confidence"):
        table.add_column(TEXT[key][lang])
    for column in ingest["columns"]:
        table.add_row(
            str(column["index"]),
            escape(str(column["header"] or "-")),
            str(column["role"]),
            f"{column['confidence']:.2f}",
        )
    console.print(table)


def _show_accounts(console: Console, lang: str, attribution: dict[str, Any]) -> None:
    table = Table(title=TEXT["leak_accounts"][lang])
    for key in (
        "leak_col_account",
        "leak_col_role2",
        "leak_col_revealed",
        "leak_col_alone",
        "leak_col_share",
        "leak_col_source",
    ):
        table.add_column(TEXT[key][lang])
    for account in attribution["accounts"][:6]:
        table.add_row(
            account["employee_id"],
            str(account["role"]),
            f"{account['revealed']:,}",
            f"{account['alone']:,}",
            f"{account['alone_share']:.1%} "
            f"[{account['alone_share_low']:.1%}-{account['alone_share_high']:.1%}]",
            "✓" if account["source"] else "",
        )
    console.print(table)


def _show_legal(console: Console, lang: str, out: Path) -> dict[str, object]:
    import json

    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    legal = report["legal"]
    assessment = legal["assessment"]
    say(
        console,
        "leak_legal",
        lang,
        category=legal["category"],
        severity=_SEVERITY[assessment["severity"]][lang],
    )
    for reason in assessment["reasons"]:
        say(console, "leak_reason", lang, clause=reason["clause"], text=reason[lang])
    accounts = {}
    for account, assessed in legal["accounts"].items():
        records = legal["inputs"][f"account:{account}"]["records"][legal["category"]]
        say(
            console,
            "leak_legal_account",
            lang,
            account=account,
            records=records,
            severity=_SEVERITY[assessed["severity"]][lang],
        )
        accounts[account] = assessed["severity"]
    return {
        "category": legal["category"],
        "file_severity": assessment["severity"],
        "accounts": accounts,
    }
