"""``parcelguard demo``: the product's story told to a carrier's security team.

Each capability adds a chapter. Chapter 1 is the vault: a fresh store, a batch of synthetic
waybills put in, what a row looks like at rest, and a day crypto-shredded. Chapter 2 is the
simulated carrier in the legacy regime with the Jingzhou case inside, and what its insiders
took. Chapter 3 is the audit log, chapter 4 the same case replayed through the one door.
Chapter 5 tells the case twice on one world, live, in the legacy and the guarded regime, and
links the courier whose parcels the clerk's list was to her. Chapter 6 is batch detection
over a simulated month: the top alerts with their reasons, the case's harvester–revealer
pair among them, and the day-by-day evaluation against the baselines. Chapter 7
(:mod:`parcelguard.cli.demo_leak`) finds the case's file for sale, messy and in GBK, and
traces it: ingest, blind-index match, the clerk's and the courier's accounts with the share
each alone explains, the report and its evidence verified offline, the legal assessment.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pyarrow as pa
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from parcelguard.admin import initialise, open_vault
from parcelguard.audit.entry import AuditEntry
from parcelguard.cli.demo_leak import leak_chapter
from parcelguard.config import Settings
from parcelguard.core.clock import CARRIER_TZ, today
from parcelguard.core.waybill import NewWaybill
from parcelguard.detect.alerts import Alert, Reason, day_text
from parcelguard.simulate.recipients import synthetic_waybills
from parcelguard.vault import Vault, keystore

if TYPE_CHECKING:
    from parcelguard.reveal.service import RevealDecision
    from parcelguard.simulate.live_report import LiveReport
    from parcelguard.simulate.world import WorldConfig
    from parcelguard.vnum import VirtualNumbers

DEMO_WAYBILLS = 3_000
DEMO_DAYS = 3

TEXT = {
    "title": {
        "en": "ParcelGuard demo — chapter 1: the vault",
        "zh": "ParcelGuard 演示 —— 第一章：数据保险库",
    },
    "init": {
        "en": "1. Initialise the store: schema, key-encryption key, blind-index key, policies.",
        "zh": "1. 初始化：数据库结构、密钥加密密钥（KEK）、盲索引密钥、默认策略。",
    },
    "put": {
        "en": "2. A sender system hands over {n} waybills of {days} days (synthetic people).",
        "zh": "2. 寄件方系统交来 {days} 天共 {n} 个运单（均为合成数据）。",
    },
    "rest": {
        "en": "3. What a database dump shows for waybill {no}: ciphertext, blind indexes, masks.",
        "zh": "3. 数据库导出中运单 {no} 的样子：密文、盲索引、脱敏信息。",
    },
    "scan": {
        "en": "   Searched the database files for all {n} plaintext values: {found} found.",
        "zh": "   在数据库文件中搜索全部 {n} 个明文值：找到 {found} 个。",
    },
    "match": {
        "en": "   Blind index: the phone of {no} matches {count} waybill(s) without decrypting anything.",
        "zh": "   盲索引：无需解密，{no} 的手机号匹配到 {count} 个运单。",
    },
    "shred": {
        "en": "4. Retention: crypto-shred {day}. {keys} data key(s) destroyed, {rows} waybills gone.",
        "zh": "4. 保留期到：粉碎 {day} 的数据。销毁 {keys} 个数据密钥，{rows} 个运单的个人信息不可恢复。",
    },
    "after": {
        "en": "   The same waybill now: fields empty, its data key destroyed.",
        "zh": "   同一运单现在：字段已清空，数据密钥已销毁。",
    },
    "noshred": {
        "en": "4. Every demo day up to today is already shredded in this store; nothing left to shred.",
        "zh": "4. 此库中演示日期已全部粉碎，没有可粉碎的日期。",
    },
    "end": {
        "en": "Next chapter arrives with the web console.",
        "zh": "后续章节：网页控制台。",
    },
    "door_title": {
        "en": "Chapter 4: the same case through the one door (guarded regime)",
        "zh": "第四章：同一案件经过唯一调阅入口（受控体制）",
    },
    "door_world": {
        "en": "   A fresh store: {days} days, {employees:,} employees, {waybills:,} waybills in the vault, "
        "workflow facts, {pool:,} virtual numbers. Replaying {reveals:,} reveal requests in time order…",
        "zh": "   新建存储：{days} 天，{employees:,} 名员工，{waybills:,} 个运单存入保险库，工作流事实，"
        "{pool:,} 个隐私号。按时间顺序重放 {reveals:,} 次调阅请求……",
    },
    "door_honest": {
        "en": "   Honest staff: {allowed:,} of {total:,} reveals allowed ({share:.1%}): {vnum:,} as virtual "
        "numbers, {plain:,} addresses in plaintext, {masked:,} masked.",
        "zh": "   正常员工：{total:,} 次调阅中允许 {allowed:,} 次（{share:.1%}）：隐私号 {vnum:,} 次，"
        "明文地址 {plain:,} 次，掩码 {masked:,} 次。",
    },
    "door_insider": {
        "en": "   {employee} ({role}, {scenario}): {tried:,} reveal requests, {allowed:,} allowed; "
        "denied: {reasons}",
        "zh": "   {employee}（{role}，{scenario}）：调阅请求 {tried:,} 次，允许 {allowed:,} 次；拒绝原因：{reasons}",
    },
    "door_courier": {
        "en": "   Courier {employee}: {numbers} virtual numbers for {waybills} waybills, every one assigned "
        "to him; none routes a call from any other phone ({route}).",
        "zh": "   快递员 {employee}：{waybills} 个运单获得 {numbers} 个隐私号，全部是分配给他的运单；"
        "其他电话拨打均无法接通（{route}）。",
    },
    "door_audit": {
        "en": "   The audit log holds all {entries:,} decisions, allow and deny, each with its reason, e.g.:",
        "zh": "   审计日志记录了全部 {entries:,} 条决定（允许与拒绝），每条都有原因，例如：",
    },
    "audit_title": {
        "en": "Chapter 3: an audit log nobody can rewrite unnoticed",
        "zh": "第三章：任何人都无法悄悄改写的审计日志",
    },
    "audit_head": {
        "en": "   {n:,} access decisions appended; tree size {size:,}, root {root}…, checkpoint signed by {origin}.",
        "zh": "   追加 {n:,} 条访问决定；树大小 {size:,}，根哈希 {root}…，检查点由 {origin} 签名。",
    },
    "audit_proof": {
        "en": "   Inclusion proof of the revealer's reveal #{index}: {steps} hashes, verified: {ok}.",
        "zh": "   调阅人第 {index} 号调阅记录的包含性证明：{steps} 个哈希，验证结果：{ok}。",
    },
    "audit_witness": {
        "en": "   The witness cosigned tree size {size:,}.",
        "zh": "   见证方已对树大小 {size:,} 进行联署。",
    },
    "audit_tamper": {
        "en": "   A database administrator rewrites that entry to 'denied', recomputes every hash and deletes the signed checkpoints. The log verifies internally: {ok}.",
        "zh": "   数据库管理员把该记录改为“拒绝”，重算全部哈希并删除已签名的检查点。日志内部校验：{ok}。",
    },
    "audit_alarm": {
        "en": "   The witness refuses the rewritten history: {alarm}",
        "zh": "   见证方拒绝被改写的历史：{alarm}",
    },
    "sim_title": {
        "en": "Chapter 2: a simulated carrier in the legacy regime, with the Jingzhou case inside",
        "zh": "第二章：旧权限体制下的仿真快递公司，内含荆州案场景",
    },
    "sim_world": {
        "en": "   {days} days, {employees:,} employees, {waybills:,} waybills, {accesses:,} accesses.",
        "zh": "   {days} 天，{employees:,} 名员工，{waybills:,} 个运单，{accesses:,} 次访问。",
    },
    "sim_insider": {
        "en": "   {employee} ({role}): {records:,} recipient records revealed, {first} → {last}",
        "zh": "   {employee}（{role}）：调阅收件人信息 {records:,} 条，{first} → {last}",
    },
    "sim_searcher": {
        "en": "   {employee} ({role}): {searches} address-book searches for colleagues with nationwide lookup, {first} → {last}",
        "zh": "   {employee}（{role}）：在通讯录中搜索有全国查询权限的同事 {searches} 次，{first} → {last}",
    },
    "sim_total": {
        "en": "   In a week the insiders took {records:,} records. Only {denied:,} of their lookups "
        "were denied: other carriers' numbers the system did not know. Every other one looked "
        "like an ordinary lookup.",
        "zh": "   一周内内部人员共取得 {records:,} 条记录，仅 {denied:,} 次查询被拒绝（系统不认识的其他快递公司单号），"
        "其余每一次都像普通查询。",
    },
    "case_title": {
        "en": "Chapter 5: the Jingzhou case told twice, on the same world",
        "zh": "第五章：同一个世界，荆州案讲两遍",
    },
    "case_world": {
        "en": "   {days} days, {employees:,} employees, {waybills:,} waybills (seed {seed}); every "
        "reveal through the real door in {slice}-second slices, once in the legacy regime and "
        "once guarded, the insiders adapting to what the door answers…",
        "zh": "   {days} 天，{employees:,} 名员工，{waybills:,} 个运单（种子 {seed}）；每次调阅都经过真实的调阅入口，"
        "按 {slice} 秒一段推进，旧体制与受控体制各跑一遍，内部人员会根据系统的回应调整行为……",
    },
    "case_col_account": {"en": "account", "zh": "账号"},
    "case_col_role": {"en": "role", "zh": "角色"},
    "case_col_legacy": {"en": "legacy", "zh": "旧体制"},
    "case_col_span": {"en": "over", "zh": "持续"},
    "case_col_guarded": {"en": "guarded", "zh": "受控"},
    "case_col_stopped": {"en": "stopped by", "zh": "如何被阻止"},
    "case_days": {"en": "{days} days", "zh": "{days} 天"},
    "case_contained": {
        "en": "contained after {minutes:,.0f} min",
        "zh": "{minutes:,.0f} 分钟后被封控",
    },
    "case_denied": {
        "en": "{denied:,}/{requests:,} denied",
        "zh": "拒绝 {denied:,}/{requests:,}",
    },
    "case_nothing": {"en": "-", "zh": "-"},
    "case_legacy": {
        "en": "   Legacy: the clerk {employee} took {records:,} records over {days} days "
        "({first} → {last}); the case's accounts together took {total:,}.",
        "zh": "   旧体制：仓管员 {employee} 在 {days} 天内（{first} → {last}）取得 {records:,} 条记录；"
        "本案各账号合计 {total:,} 条。",
    },
    "case_guarded_contained": {
        "en": "   Guarded: {employee} contained {minutes:,.0f} minutes after her first malicious "
        "lookup, with {before:,} record(s) before containment; alert {alert}, signals: {reasons}.",
        "zh": "   受控体制：{employee} 在第一次恶意查询后 {minutes:,.0f} 分钟被封控，封控前取得 {before:,} 条记录；"
        "告警 {alert}，信号：{reasons}。",
    },
    "case_guarded_stopped": {
        "en": "   Guarded: {employee} was never contained: the policies denied {denied:,} of her "
        "{requests:,} requests ({reasons}) and she stopped, with {records:,} record(s).",
        "zh": "   受控体制：{employee} 未被封控：策略拒绝了她 {requests:,} 次请求中的 {denied:,} 次（{reasons}），"
        "她随即停手，取得 {records:,} 条记录。",
    },
    "case_alerts": {
        "en": "   Alerts raised in the guarded run: {alerts}",
        "zh": "   受控运行中产生的告警：{alerts}",
    },
    "case_link": {
        "en": "   Linked ({source}): courier {holder} holds {held:,} of the {of:,} waybills she "
        "asked for ({share:.0%}), {lift:,.0f}× what chance gives (p {p}).",
        "zh": "   关联（{source}）：快递员 {holder} 持有她所查 {of:,} 个运单中的 {held:,} 个（{share:.0%}），"
        "是随机情况的 {lift:,.0f} 倍（p {p}）。",
    },
    "case_nolink": {
        "en": "   No courier links ({source}): {asked:,} numbers asked, {unknown:,} unknown; "
        "top holder {top}.",
        "zh": "   未发现关联（{source}）：所查 {asked:,} 个单号，{unknown:,} 个不存在；持有最多者 {top}。",
    },
    "case_lead": {
        "en": "   A lead, too few to name on its own ({source}): {held} of {of} known numbers "
        "are held by courier {holder} ({lift:.0f}x chance, p = {p}); her whole list settles it.",
        "zh": "   线索，数量尚不足以单独认定（{source}）：已知单号中 {held}/{of} 由快递员 {holder} "
        "持有（为随机的 {lift:.0f} 倍，p = {p}）；她的完整清单可以定论。",
    },
    "case_source_legacy": {
        "en": "her whole list, from the legacy audit",
        "zh": "旧体制审计中的全部清单",
    },
    "case_source_guarded": {
        "en": "the {n:,} numbers she sent the guarded door before it stopped her",
        "zh": "受控体制下她在被拦下之前提交的 {n:,} 个单号",
    },
    "case_truth": {
        "en": "   Ground truth (the world's labels): the harvester is {harvester}; the link names "
        "{named}: {verdict}.",
        "zh": "   真实情况（世界标签）：收集运单的快递员是 {harvester}；关联指向 {named}：{verdict}。",
    },
    "case_match": {"en": "the same courier", "zh": "同一人"},
    "case_mismatch": {
        "en": "another courier (the scenario's harvester does not hold these waybills)",
        "zh": "另一名快递员（场景中的收集者并不持有这些运单）",
    },
    "case_time": {
        "en": "   Both regimes ran in {seconds:.1f} s.",
        "zh": "   两种体制共运行 {seconds:.1f} 秒。",
    },
    "det_title": {
        "en": "Chapter 6: batch detection over the simulated month",
        "zh": "第六章：对仿真的一个月做批量检测",
    },
    "det_world": {
        "en": "   {days} days of waybills, {employees:,} employees, {waybills:,} waybills (seed {seed}), the "
        "Jingzhou case inside: {accesses:,} accesses and {workflow:,} workflow rows written in "
        "the exchange format (no personal data in it) and read back as `detect run` reads them.",
        "zh": "   {days} 天的运单，{employees:,} 名员工，{waybills:,} 个运单（种子 {seed}），内含荆州案："
        "{accesses:,} 次访问与 {workflow:,} 行工作流以交换格式写出（其中没有个人信息），"
        "再按 `detect run` 的方式读回。",
    },
    "det_run": {
        "en": "   Detection at the end of the month: {events:,} events read, {scored:,} accounts "
        "scored, {alerts} alert(s) in {seconds:.1f} s. The top {top}:",
        "zh": "   月末检测：读取 {events:,} 个事件，评估 {scored:,} 个账号，{seconds:.1f} 秒内产生 "
        "{alerts} 条告警。前 {top} 条：",
    },
    "det_col_rank": {"en": "#", "zh": "#"},
    "det_col_account": {"en": "account", "zh": "账号"},
    "det_col_role": {"en": "role", "zh": "角色"},
    "det_col_score": {"en": "score", "zh": "分数"},
    "det_col_detectors": {"en": "detectors", "zh": "检测器"},
    "det_alert": {
        "en": "   {rank}. {alert}: {employee} ({role}), score {score:.3f}, {codes} reason "
        "code(s); the strongest:",
        "zh": "   {rank}. {alert}：{employee}（{role}），分数 {score:.3f}，{codes} 种原因；最强的几条：",
    },
    "det_reason": {
        "en": "      {code}: {value:,} against a baseline of {baseline:,} over {window} ({day})",
        "zh": "      {code}：{value:,}，基线 {baseline:,}，时间窗 {window}（{day}）",
    },
    "det_pair": {
        "en": "   The pair: {revealer} ({revealer_role}) revealed {of:,} waybills without a "
        "workflow link; {holder} ({holder_role}) held {held:,} of them, where chance gives "
        "{expected:.1f}. Both are alerted. {holder}'s own reveals, {own:,}, have "
        "{own_unexplained:,} without a workflow link: he is named by {holder_codes}. "
        "{evidence} event id(s) prove the link.",
        "zh": "   这一对：{revealer}（{revealer_role}）在没有工作流关联的情况下调阅了 {of:,} 个运单；"
        "{holder}（{holder_role}）持有其中 {held:,} 个，随机情况下约为 {expected:.1f} 个。"
        "两人都被告警。{holder} 本人调阅 {own:,} 次，其中无工作流关联的 {own_unexplained:,} 次："
        "认定他的是 {holder_codes}。{evidence} 个事件编号可证明这一关联。",
    },
    "det_nopair": {
        "en": "   No harvester–revealer pair was named in this run.",
        "zh": "   本次运行没有认定收集者—调阅者配对。",
    },
    "det_pair_truth": {
        "en": "   Ground truth (the world's labels): the case's clerk is {clerk}, its courier "
        "{courier}: {verdict}.",
        "zh": "   真实情况（世界标签）：本案仓管员是 {clerk}，快递员是 {courier}：{verdict}。",
    },
    "det_pair_match": {"en": "the pair named is the case's", "zh": "认定的配对正是本案的两人"},
    "det_pair_mismatch": {
        "en": "the pair named is not the case's",
        "zh": "认定的配对并非本案的两人",
    },
    "det_eval": {
        "en": "   The evaluation (as `parcelguard eval`): detection at the end of each of the "
        "{days} days with events (deliveries go on after the last waybill), scored by the "
        "world's labels, with the baselines on the same features ({seconds:.1f} s).",
        "zh": "   评估（同 `parcelguard eval`）：在有事件的 {days} 天中每天结束时运行检测（最后一批运单之后投递仍在继续），"
        "以世界标签评分，基线方法使用相同特征（{seconds:.1f} 秒）。",
    },
    "det_scenario": {
        "en": "   Scenario {scenario}: per labelled account, its records in all, the hours to the "
        "detectors' first alert and the records taken by then, and each baseline's hours:",
        "zh": "   场景 {scenario}：每个标注账号的记录总数、到检测器首次告警的小时数及届时已取得的记录，"
        "以及各基线的小时数：",
    },
    "det_col_records": {"en": "records", "zh": "记录"},
    "det_col_hours": {"en": "hours", "zh": "小时"},
    "det_col_by_then": {"en": "by then", "zh": "届时记录"},
    "det_m_detectors": {"en": "detectors", "zh": "检测器"},
    "det_m_feedback": {"en": "+ feedback", "zh": "检测器＋反馈"},
    "det_m_pyod_iforest": {"en": "IForest", "zh": "孤立森林"},
    "det_m_pyod_ecod": {"en": "ECOD", "zh": "ECOD"},
    "det_m_volume_threshold": {"en": "volume bar", "zh": "量阈值"},
    "det_col_method": {"en": "method", "zh": "方法"},
    "det_col_accounts": {"en": "accounts", "zh": "检出账号"},
    "det_col_scenarios": {"en": "scenarios", "zh": "检出场景"},
    "det_col_p10": {"en": "P@10", "zh": "前10精确率"},
    "det_col_pk": {"en": "P@k", "zh": "前k精确率"},
    "det_col_false": {"en": "false/10k emp-days", "zh": "每万员工日误报"},
    "det_hours_note": {
        "en": "   Hours from the account's first malicious access to the run that first alerted "
        "it (each baseline's in its own column, '-' never); k = {k} labelled accounts, "
        "{employee_days:,} employee-days.",
        "zh": "   小时数：从该账号第一次恶意访问到首次告警的那次运行（各基线各占一列，“-”表示从未告警）；"
        "k = {k} 个标注账号，{employee_days:,} 个员工日。",
    },
    "det_case": {
        "en": "   The case: clerk {clerk} alerted {clerk_hours} h and courier {courier} "
        "{courier_hours} h after the clerk's first lookup; both within 24 h: {both}.",
        "zh": "   本案：仓管员 {clerk} 在其第一次查询后 {clerk_hours} 小时被告警，快递员 {courier} "
        "在 {courier_hours} 小时后被告警；均在 24 小时内：{both}。",
    },
    "det_time": {
        "en": "   The chapter ran in {seconds:.1f} s.",
        "zh": "   本章运行 {seconds:.1f} 秒。",
    },
}


def say(console: Console, key: str, lang: str, **values: object) -> None:
    console.print(TEXT[key].get(lang, TEXT[key]["en"]).format(**values))


def run_demo(settings: Settings, lang: str, *, quiet: bool, serve: bool) -> dict[str, object]:
    """Run the chapters; ``serve`` is accepted for the console chapter that comes later."""
    del serve  # the web console does not exist yet; nothing to serve
    console = Console(quiet=quiet)
    console.print(Panel(TEXT["title"][lang], style="bold"))

    say(console, "init", lang)
    report = initialise(settings)
    console.print(f"   {report.database}  kek={report.kek_id}  created={report.created or '-'}")

    with open_vault(settings) as vault:
        return _story(console, lang, settings, vault)


def _story(console: Console, lang: str, settings: Settings, vault: Vault) -> dict[str, object]:
    with vault.engine.connect() as conn:
        horizon = keystore.shred_horizon(conn)
    first_day = today() - timedelta(days=DEMO_DAYS - 1)
    if horizon is not None and horizon > first_day:
        first_day = horizon
    days = (today() - first_day).days + 1
    start = datetime.combine(first_day, time(8), CARRIER_TZ).astimezone(UTC)
    serial = secrets.randbelow(10**11) * 10
    batch = list(
        synthetic_waybills(
            DEMO_WAYBILLS * days // DEMO_DAYS,
            seed=serial,
            start=start,
            span=max(datetime.now(UTC) - start, timedelta(minutes=1)),
            first_serial=serial,
        )
    )
    say(console, "put", lang, n=len(batch), days=days)
    put = vault.put(batch)
    console.print(f"   {put.as_dict()}")

    sample = batch[0]
    say(console, "rest", lang, no=sample.waybill_no)
    console.print(_row_table(vault.at_rest(sample.waybill_no) or {}))
    found = _plaintext_in_files(settings, batch)
    if found is not None:
        say(console, "scan", lang, n=len(batch) * 3, found=found)
    matches = vault.find_by_phone(sample.recipient_phone)
    say(console, "match", lang, no=sample.waybill_no, count=len(matches))

    result: dict[str, object] = {
        "chapter": "vault",
        "put": put.as_dict(),
        "sample_waybill": sample.waybill_no,
        "plaintext_found_in_files": found,
        "blind_index_matches": len(matches),
    }
    if days >= 2:
        shred = vault.shred(first_day + timedelta(days=1))
        say(
            console,
            "shred",
            lang,
            day=first_day.isoformat(),
            keys=shred.keys_destroyed,
            rows=shred.waybills_shredded,
        )
        say(console, "after", lang)
        console.print(_row_table(vault.at_rest(sample.waybill_no) or {}))
        result["shred"] = shred.as_dict()
    else:
        say(console, "noshred", lang)
    result["stats"] = vault.stats()
    result["simulation"], tables = _simulation_chapter(console, lang)
    result["audit"] = _audit_chapter(console, lang, settings, tables)
    result["reveal"] = _door_chapter(console, lang)
    result["case_twice"] = _case_chapter(console, lang)
    result["detection"] = _detection_chapter(console, lang)
    result["leak"] = leak_chapter(console, lang)
    say(console, "end", lang)
    return result


def _simulation_chapter(
    console: Console, lang: str
) -> tuple[dict[str, object], dict[str, pa.Table]]:
    import pyarrow.compute as pc

    from parcelguard.simulate.run import simulate
    from parcelguard.simulate.world import WorldConfig

    console.print(Panel(TEXT["sim_title"][lang], style="bold"))
    # A courier delivers 100-200 parcels a day: 1,160 couriers need about 150,000 waybills.
    config = WorldConfig(seed=2016, days=7, employees=2_000, waybills_per_day=150_000)
    tables = simulate(config, ["jingzhou-2016"])
    accesses, employees = tables["accesses"], tables["employees"]
    say(
        console,
        "sim_world",
        lang,
        days=config.days,
        employees=employees.num_rows,
        waybills=tables["waybills"].num_rows,
        accesses=accesses.num_rows,
    )
    role = dict(
        zip(employees["employee_id"].to_pylist(), employees["role"].to_pylist(), strict=True)
    )
    taken = denied = 0
    insiders = []
    for row in tables["labels"].to_pylist():
        mine = accesses.filter(pc.equal(accesses["employee_id"], row["employee_id"]))
        # The scenario's own reveals: allowed only because of the legacy nationwide lookup.
        records = pc.sum(pc.equal(mine["reason"], "legacy_lookup")).as_py() or 0
        searches = pc.sum(pc.equal(mine["reason"], "directory")).as_py() or 0
        taken += records
        denied += pc.sum(pc.equal(mine["decision"], "deny")).as_py() or 0
        insiders.append({"employee_id": row["employee_id"], "records": records})
        say(
            console,
            "sim_insider" if records else "sim_searcher",
            lang,
            employee=row["employee_id"],
            role=role[row["employee_id"]],
            records=records,
            searches=searches,
            first=f"{row['started_at']:%m-%d %H:%M}",
            last=f"{row['ended_at']:%m-%d %H:%M}",
        )
    say(console, "sim_total", lang, records=taken, denied=denied)
    return {"insiders": insiders, "records_taken": taken, "lookups_denied": denied}, tables


def _audit_entries(tables: dict[str, pa.Table]) -> tuple[list[AuditEntry], int]:
    """The first day's decisions plus the revealer's, as audit entries; and one reveal's index."""
    import pyarrow.compute as pc

    from parcelguard.simulate.into_store import audit_entries

    accesses = tables["accesses"]
    labels = tables["labels"].to_pylist()
    busiest = max(labels, key=lambda row: row["ended_at"] - row["started_at"])["employee_id"]
    theirs = pc.and_(
        pc.equal(accesses["employee_id"], busiest), pc.equal(accesses["reason"], "legacy_lookup")
    )
    picked = pc.or_(
        theirs, pc.less(accesses["ts"], accesses["ts"][0].as_py() + timedelta(hours=10))
    )
    chosen = accesses.filter(picked)
    entries = audit_entries(chosen)
    rows = chosen.select(["employee_id", "reason"]).to_pylist()
    target = next(
        i
        for i, row in enumerate(rows)
        if row["employee_id"] == busiest and row["reason"] == "legacy_lookup"
    )
    return entries, target


def _audit_chapter(
    console: Console, lang: str, settings: Settings, tables: dict[str, pa.Table]
) -> dict[str, object]:
    import tempfile

    from parcelguard.admin import log_signer, open_audit_log
    from parcelguard.audit import merkle
    from parcelguard.audit.log import AuditLog
    from parcelguard.audit.tamper import rewrite_entry
    from parcelguard.audit.witness import Witness, WitnessAlarm

    console.print(Panel(TEXT["audit_title"][lang], style="bold"))
    entries, target = _audit_entries(tables)
    now = datetime.now(UTC)

    def story(home: Settings) -> tuple[int, Witness, AuditLog]:
        log = open_audit_log(home)
        first = log.append(entries)[0]
        signer = log_signer(home)
        note = log.checkpoint(signer, home.log_origin, now)
        witness_home = home.home / "witness"
        witness_home.mkdir(parents=True, exist_ok=True, mode=0o700)
        witness = Witness(
            witness_home, "parcelguard-witness", signer.verifier_key(), home.log_origin
        )
        last = witness.last_size()
        proof = list(log.consistency(last, log.head().tree_size)["proof"]) if last else None  # type: ignore[call-overload]
        witness.observe(note, proof, int(now.timestamp()))
        return first, witness, log

    first, witness, log = story(settings)
    head = log.head()
    say(
        console,
        "audit_head",
        lang,
        n=len(entries),
        size=head.tree_size,
        root=head.root_hash.hex()[:16],
        origin=settings.log_origin,
    )
    index = first + target
    proof = log.prove(index, head.tree_size)
    path = cast(list[bytes], proof["inclusion_path"])
    leaf = merkle.leaf_hash(cast(bytes, proof["entry"]))
    ok = merkle.verify_inclusion(leaf, index, head.tree_size, path, cast(bytes, proof["root_hash"]))
    say(console, "audit_proof", lang, index=index, steps=len(path), ok=ok)
    say(console, "audit_witness", lang, size=witness.last_size())

    # The tampering happens in a scratch store: the demo never damages the real one.
    with tempfile.TemporaryDirectory(prefix="parcelguard-dba-") as scratch:
        import base64
        import os

        other = Settings.from_env(
            {
                "PARCELGUARD_HOME": scratch,
                "PARCELGUARD_KEK": base64.b64encode(os.urandom(32)).decode(),
            }
        )
        initialise(other)
        _, scratch_witness, scratch_log = story(other)
        rewrite_entry(scratch_log.engine, target, decision="deny", reason="not_permitted")
        verified = scratch_log.verify().ok
        say(console, "audit_tamper", lang, ok=verified)
        note = scratch_log.checkpoint(log_signer(other), other.log_origin, now)
        try:
            scratch_witness.observe(note, None, int(now.timestamp()))
            alarm = "none"
        except WitnessAlarm as exc:
            alarm = exc.message
        say(console, "audit_alarm", lang, alarm=alarm)
        scratch_log.engine.dispose()
    log.engine.dispose()
    return {
        "entries_appended": len(entries),
        "tree_size": head.tree_size,
        "proof_verified": ok,
        "tamper_verified_internally": verified,
        "witness_alarm": alarm,
    }


def _row_table(row: dict[str, object]) -> Table:
    table = Table(show_header=False, box=None, padding=(0, 3))
    for key, value in row.items():
        shown = "NULL" if value is None else str(value)
        if len(shown) > 66:
            shown = shown[:62] + "…"
        table.add_row(key, shown)
    return table


def _plaintext_in_files(settings: Settings, batch: list[NewWaybill]) -> int | None:
    """Count plaintext values that appear in the SQLite files (None for other backends)."""
    if not settings.db_url.startswith("sqlite:///"):
        return None
    base = Path(settings.db_url.removeprefix("sqlite:///"))
    blob = b"".join(
        p.read_bytes() for p in (base, Path(f"{base}-wal"), Path(f"{base}-shm")) if p.exists()
    )
    needles = [
        v.encode()
        for w in batch
        for v in (w.recipient_name, w.recipient_phone, w.recipient_address)
    ]
    return sum(1 for needle in needles if needle in blob)


def _door_chapter(console: Console, lang: str) -> dict[str, object]:
    """The Jingzhou case replayed through the reveal service, in a scratch store."""
    import base64
    import os
    import tempfile

    import pyarrow.compute as pc

    from parcelguard.simulate.run import simulate
    from parcelguard.simulate.world import WorldConfig

    console.print(Panel(TEXT["door_title"][lang], style="bold"))
    config = WorldConfig(seed=2016, days=3, employees=400, waybills_per_day=12_000)
    tables = simulate(config, ["jingzhou-2016"])
    reveals = tables["accesses"].filter(pc.equal(tables["accesses"]["action"], "reveal"))
    with tempfile.TemporaryDirectory(prefix="parcelguard-door-") as scratch:
        settings = Settings.from_env(
            {
                "PARCELGUARD_HOME": scratch,
                "PARCELGUARD_KEK": base64.b64encode(os.urandom(32)).decode(),
            }
        )
        initialise(settings)
        return _door_replay(console, lang, settings, config, tables, reveals.to_pylist())


def _door_replay(
    console: Console,
    lang: str,
    settings: Settings,
    config: WorldConfig,
    tables: dict[str, pa.Table],
    rows: list[dict[str, Any]],
) -> dict[str, object]:
    from parcelguard.admin import key_provider, open_reveal_service
    from parcelguard.reveal.facts import RevealRequest
    from parcelguard.reveal.guard import MemoryNotifier
    from parcelguard.simulate.into_store import put_world
    from parcelguard.simulate.workflow import put_workflow
    from parcelguard.vnum import VirtualNumbers
    from parcelguard.vnum.numbers import pool_numbers

    pool = 60_000
    put_world(tables, config.seed, settings, key_provider(settings))
    clock = {"now": rows[0]["ts"].astimezone(UTC)}
    # The chapter tells its containments; the guard's log lines would repeat them on stderr.
    service = open_reveal_service(settings, clock=lambda: clock["now"], notifier=MemoryNotifier())
    put_workflow(service.engine, tables)
    numbers = VirtualNumbers(service.engine)
    numbers.provision(pool_numbers("1709", pool, seed=config.seed))
    say(
        console,
        "door_world",
        lang,
        days=config.days,
        employees=tables["employees"].num_rows,
        waybills=tables["waybills"].num_rows,
        pool=pool,
        reveals=len(rows),
    )
    decisions = []
    for start in range(0, len(rows), 500):
        part = rows[start : start + 500]
        clock["now"] = part[-1]["ts"].astimezone(UTC)
        decisions += service.reveal_batch(
            [
                RevealRequest(
                    actor=r["employee_id"],
                    waybill_no=r["waybill_no"],
                    field=r["field"] or "phone",
                    purpose=r["purpose"] or "other",
                    device_id=r["device_id"],
                    channel=r["channel"],
                    ip=r["ip"],
                    request_id=r["event_id"],
                )
                for r in part
            ]
        )
    result = _door_report(console, lang, tables, rows, decisions, numbers)
    result.update(_door_audit(console, lang, settings, decisions))
    service.engine.dispose()
    return result


def _door_report(
    console: Console,
    lang: str,
    tables: dict[str, pa.Table],
    rows: list[dict[str, Any]],
    decisions: list[RevealDecision],
    numbers: VirtualNumbers,
) -> dict[str, object]:
    from collections import Counter

    insiders = {r["employee_id"]: r["scenario"] for r in tables["labels"].to_pylist()}
    staff = tables["employees"]
    role = dict(zip(staff["employee_id"].to_pylist(), staff["role"].to_pylist(), strict=True))
    pairs = list(zip(rows, decisions, strict=True))
    honest = [(r, d) for r, d in pairs if r["employee_id"] not in insiders]
    allowed = [d for _, d in honest if d.allowed]
    forms = Counter(d.form for d in allowed)
    share = len(allowed) / max(len(honest), 1)
    say(
        console,
        "door_honest",
        lang,
        allowed=len(allowed),
        total=len(honest),
        share=share,
        vnum=forms["virtual_number"],
        plain=forms["plaintext"],
        masked=forms["masked"],
    )
    report: list[dict[str, object]] = []
    for employee, scenario in insiders.items():
        mine = [d for r, d in pairs if r["employee_id"] == employee]
        if not mine:
            continue
        denied = Counter(d.reason for d in mine if not d.allowed)
        entry = {
            "employee_id": employee,
            "scenario": scenario,
            "requests": len(mine),
            "allowed": sum(d.allowed for d in mine),
            "denied": dict(denied),
        }
        say(
            console,
            "door_insider",
            lang,
            employee=employee,
            role=role[employee],
            scenario=scenario,
            tried=len(mine),
            allowed=entry["allowed"],
            reasons=", ".join(f"{reason} x{n}" for reason, n in denied.most_common(3)) or "-",
        )
        report.append(entry)
    couriers = Counter(r["employee_id"] for r, d in honest if d.form == "virtual_number")
    busiest = couriers.most_common(1)[0][0]
    his = [(r, d) for r, d in honest if r["employee_id"] == busiest and d.form == "virtual_number"]
    numbers_seen = {str(d.value) for _, d in his}
    _, sample = his[-1]
    assert sample.valid_until is not None
    route = numbers.route(str(sample.value), "BUYER-PHONE", sample.valid_until - timedelta(hours=1))
    say(
        console,
        "door_courier",
        lang,
        employee=busiest,
        numbers=len(numbers_seen),
        waybills=len({r["waybill_no"] for r, _ in his}),
        route=route.reason,
    )
    return {
        "reveal_requests": len(rows),
        "honest_allowed_ratio": round(share, 4),
        "insiders": report,
        "courier_virtual_numbers": len(numbers_seen),
        "buyer_call_connected": route.connected,
    }


def _door_audit(
    console: Console, lang: str, settings: Settings, decisions: list[RevealDecision]
) -> dict[str, object]:
    from parcelguard.admin import open_audit_log
    from parcelguard.audit.entry import decode_entry

    log = open_audit_log(settings)
    size = log.head().tree_size
    say(console, "door_audit", lang, entries=size)
    first_allow = next(i for i, d in enumerate(decisions) if d.allowed)
    first_deny = next(i for i, d in enumerate(decisions) if not d.allowed)
    for index in sorted({first_allow, first_deny}):
        entry = decode_entry(log.entry(index))
        console.print(
            f"     #{index} {entry.time:%m-%d %H:%M} {entry.actor} {entry.action} "
            f"{entry.waybill_no} {entry.field} {entry.purpose} → {entry.decision} "
            f"({entry.reason}; {entry.policy_id or '-'})"
        )
    from parcelguard.reveal.guard import Containments

    contained = Containments(log.engine).history()
    for containment in contained:  # the guard's acts are in the log too, with their alert ids
        console.print(
            f"     ⚑ {containment.employee_id} {containment.contained_at:%m-%d %H:%M} "
            f"{', '.join(containment.reasons)} ({containment.alert_id})"
        )
    log.engine.dispose()
    return {
        "audit_entries": size,
        "containments": len(contained),
        "contained": [c.employee_id for c in contained],
    }


# -- chapter 5: the case told twice ------------------------------------------------------------

CASE_SCENARIO = "jingzhou-2016"
CASE_SEED = 2016
CASE_DAYS = 35
CASE_EMPLOYEES = 100
CASE_WAYBILLS_PER_DAY = 1_000
"""A month and a bit, as in the case, in the smallest world the scenario fits: the bulk
collectibles sender still ships enough for over a thousand distinct records in five weeks."""
CASE_SLICE_SECONDS = 600
"""Ten-minute slices, the guard's shortest window (so containment is timed to it): a month of
one-minute slices is several times the batches, and the chapter must stay short."""
UNEXPLAINED = ("legacy_lookup", "unknown_waybill")
"""Audit reasons of a lookup no workflow relation explains: allowed only by the legacy
nationwide right, or a number that is no waybill of ours."""


def _case_run(config: WorldConfig, tables: dict[str, pa.Table], regime: str) -> LiveReport:
    """One regime's live run (in a worker process); its report keeps the guard's alerts."""
    from parcelguard.simulate.live import run_live

    return run_live(
        config, [CASE_SCENARIO], regime, batch_seconds=CASE_SLICE_SECONDS, tables=tables
    )


def _case_chapter(console: Console, lang: str) -> dict[str, object]:
    """The same world live in both regimes, side by side, and the harvester linked."""
    import multiprocessing
    import time as clock
    from concurrent.futures import ProcessPoolExecutor

    from parcelguard.simulate.live import simulate_for_live
    from parcelguard.simulate.world import WorldConfig

    console.print(Panel(TEXT["case_title"][lang], style="bold"))
    started = clock.perf_counter()
    config = WorldConfig(
        seed=CASE_SEED,
        days=CASE_DAYS,
        employees=CASE_EMPLOYEES,
        waybills_per_day=CASE_WAYBILLS_PER_DAY,
    )
    tables = simulate_for_live(config, [CASE_SCENARIO])
    say(
        console,
        "case_world",
        lang,
        days=config.days,
        employees=tables["employees"].num_rows,
        waybills=tables["waybills"].num_rows,
        seed=config.seed,
        slice=CASE_SLICE_SECONDS,
    )
    # The regimes share nothing but the world: run them side by side on the two cores.
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        runs = {r: pool.submit(_case_run, config, tables, r) for r in ("legacy", "guarded")}
        legacy, guarded = runs["legacy"].result(), runs["guarded"].result()
    alerts: list[dict[str, object]] = [
        {k: c[k] for k in ("employee_id", "alert_id", "reasons")} for c in guarded.containments
    ]
    seconds = clock.perf_counter() - started
    result = _case_report(console, lang, tables, legacy, guarded, alerts)
    say(console, "case_time", lang, seconds=seconds)
    result["world"] = {
        "seed": config.seed,
        "days": config.days,
        "employees": legacy.employees,
        "waybills": legacy.waybills,
        "slice_seconds": CASE_SLICE_SECONDS,
    }
    result["seconds"] = round(seconds, 1)
    result["runs"] = {
        report.regime: {
            "setup_seconds": round(report.setup_seconds, 1),
            "replay_seconds": round(report.replay_seconds, 1),
            "decisions": report.decisions,
            "batches": report.batches,
        }
        for report in (legacy, guarded)
    }
    return result


def _case_report(
    console: Console,
    lang: str,
    tables: dict[str, pa.Table],
    legacy: LiveReport,
    guarded: LiveReport,
    alerts: list[dict[str, object]],
) -> dict[str, object]:
    def t(key: str, **values: object) -> str:
        return _text(lang, key, **values)

    windows = {row["employee_id"]: row for row in tables["labels"].to_pylist()}
    guarded_of = {f.employee_id: f for f in guarded.insiders}
    alert_of = {str(a["employee_id"]): a for a in alerts}
    table = Table(box=None, padding=(0, 2))
    for key in ("account", "role", "legacy", "span", "guarded", "stopped"):
        table.add_column(
            t(f"case_col_{key}"), justify="left" if key in ("role", "stopped") else "right"
        )
    rows: list[dict[str, object]] = []
    for before in legacy.insiders:
        after = guarded_of[before.employee_id]
        window = windows[before.employee_id]
        days = (window["ended_at"].date() - window["started_at"].date()).days + 1
        if after.contained_at is not None:
            stopped = t("case_contained", minutes=after.minutes_to_containment)
        elif after.denied:
            stopped = t("case_denied", denied=after.denied, requests=after.requests)
        else:
            stopped = t("case_nothing")
        table.add_row(
            before.employee_id,
            before.role,
            f"{before.records_obtained:,}",
            t("case_days", days=days),
            f"{after.records_before_containment:,}",
            stopped,
        )
        rows.append(
            {
                "employee_id": before.employee_id,
                "role": before.role,
                "legacy_records": before.records_obtained,
                "legacy_days": days,
                "guarded": after.as_dict(),
                "alert": alert_of.get(before.employee_id),
            }
        )
    console.print(table)
    clerk = max(legacy.insiders, key=lambda f: f.records_obtained)
    window = windows[clerk.employee_id]
    clerk_days = (window["ended_at"].date() - window["started_at"].date()).days + 1
    say(
        console,
        "case_legacy",
        lang,
        employee=clerk.employee_id,
        records=clerk.records_obtained,
        days=clerk_days,
        first=f"{window['started_at']:%m-%d}",
        last=f"{window['ended_at']:%m-%d}",
        total=sum(f.records_obtained for f in legacy.insiders),
    )
    theirs = guarded_of[clerk.employee_id]
    alert = alert_of.get(clerk.employee_id)
    if theirs.contained_at is not None and alert is not None:
        reasons = cast(list[str], alert["reasons"])
        say(
            console,
            "case_guarded_contained",
            lang,
            employee=clerk.employee_id,
            minutes=theirs.minutes_to_containment,
            before=theirs.records_before_containment,
            alert=alert["alert_id"],
            reasons=", ".join(reasons) or "-",
        )
    else:
        say(
            console,
            "case_guarded_stopped",
            lang,
            employee=clerk.employee_id,
            denied=theirs.denied,
            requests=theirs.requests,
            reasons=", ".join(f"{r} x{n}" for r, n in theirs.denied_by_reason.items()) or "-",
            records=theirs.records_obtained,
        )
    if alerts:
        shown = "; ".join(
            f"{a['employee_id']} {a['alert_id']} ({', '.join(cast(list[str], a['reasons']))})"
            for a in alerts
        )
        say(console, "case_alerts", lang, alerts=shown)
    link = _case_link(console, lang, tables, clerk.employee_id, theirs.asked)
    return {
        "insiders": rows,
        "clerk": {
            "employee_id": clerk.employee_id,
            "role": clerk.role,
            "legacy_records": clerk.records_obtained,
            "legacy_days": clerk_days,
            "guarded_records": theirs.records_obtained,
            "guarded_records_before_containment": theirs.records_before_containment,
            "guarded_requests": theirs.requests,
            "guarded_denied_by_reason": theirs.denied_by_reason,
            "contained": theirs.contained_at is not None,
            "minutes_to_containment": theirs.minutes_to_containment,
            "alert": alert,
        },
        "alerts": alerts,
        "legacy_records_obtained": sum(f.records_obtained for f in legacy.insiders),
        "guarded_records_obtained": sum(f.records_obtained for f in guarded.insiders),
        "guarded_legit_allowed_share": guarded.honest.as_dict(guarded.employee_days)[
            "legit_allowed_share"
        ],
        "guarded_honest_contained": len(guarded.honest.contained),
        "link": link,
    }


def _case_link(
    console: Console, lang: str, tables: dict[str, pa.Table], clerk: str, sent: Sequence[str]
) -> dict[str, object]:
    """Who holds the clerk's list: from her whole list (what the legacy audit holds) and from
    the numbers she sent the guarded door before it stopped her."""
    import pyarrow.compute as pc

    from parcelguard.detect.holders import holdings_from_tables, link_holders

    a = tables["accesses"]
    mine = a.filter(
        pc.and_(
            pc.equal(a["employee_id"], clerk),
            pc.is_in(a["reason"], value_set=pa.array(UNEXPLAINED)),
        )
    )
    mine = mine.take(pc.sort_indices(mine, [("ts", "ascending"), ("event_id", "ascending")]))
    asked = [w for w in mine["waybill_no"].to_pylist() if w]
    seen = list(dict.fromkeys(w for w in sent if w))  # retries ask for the same numbers
    holdings = holdings_from_tables(tables, set(asked) | set(seen))
    findings = {
        "legacy": (link_holders(clerk, asked, holdings), _text(lang, "case_source_legacy")),
        "guarded": (
            link_holders(clerk, seen, holdings),
            _text(lang, "case_source_guarded", n=len(seen)),
        ),
    }
    out: dict[str, object] = {}
    for name, (finding, source) in findings.items():
        top = finding.named[0] if finding.named else None
        if top is None and finding.ranked and finding.ranked[0].share >= 0.5:
            top = finding.ranked[0]  # a lead: too few numbers to name him on their own
        if top is not None:
            say(
                console,
                "case_link" if finding.named else "case_lead",
                lang,
                source=source,
                holder=top.holder_id,
                held=top.held,
                of=top.of,
                share=top.share,
                lift=top.lift,
                p=_p_text(top.p_value),
            )
        else:
            say(
                console,
                "case_nolink",
                lang,
                source=source,
                asked=finding.asked,
                unknown=finding.unknown,
                top=finding.ranked[0].holder_id if finding.ranked else "-",
            )
        out[name] = finding.as_dict()
    staff = tables["employees"]
    role = dict(zip(staff["employee_id"].to_pylist(), staff["role"].to_pylist(), strict=True))
    harvester = next(
        (
            e
            for e in (r["employee_id"] for r in tables["labels"].to_pylist())
            if role[e] == "courier"
        ),
        None,
    )
    legacy_named = [link.holder_id for link in findings["legacy"][0].named]
    linked = legacy_named[0] if legacy_named else None
    if harvester is not None:
        verdict = "case_match" if linked == harvester else "case_mismatch"
        say(
            console,
            "case_truth",
            lang,
            harvester=harvester,
            named=linked or "-",
            verdict=TEXT[verdict].get(lang, TEXT[verdict]["en"]),
        )
    out["harvester_truth"] = harvester
    out["linked"] = linked
    out["linked_is_harvester"] = linked is not None and linked == harvester
    return out


# -- chapter 6: batch detection over the month ---------------------------------------------

DETECT_DAYS = 30
DETECT_EMPLOYEES = 300
DETECT_WAYBILLS_PER_DAY = 3_000
"""A month at 300 staff and 3,000 waybills a day (the staff-to-parcel ratio of the evaluation
worlds in docs/detection.md, 85,500 waybills and about 100,000 accesses in all). Why this
small: the day-by-day evaluation runs detection 30 times plus once per detector, and on two
cores that costs about a second a run whatever the world's size (the insiders' own events
and the queries' fixed cost dominate), so a bigger world buys nothing the chapter shows and
a smaller one leaves peer groups too thin to deviate from. Only the case's scenario, as in
chapter 5: the other eight scenarios bring tens of thousands of insider records whose
evidence each daily run gathers again, which would triple the chapter's time."""
DETECT_TOP = 5
"""Alerts printed with their reasons; the JSON keeps every alert's figures."""
DETECT_REASONS = 3
"""Reasons printed per alert (the strongest; an alert carries up to three per code)."""


def _detection_chapter(console: Console, lang: str) -> dict[str, object]:
    """The month simulated, written in the exchange format, detected and evaluated.

    Everything goes through what a carrier runs: the simulator's world written to a folder
    and read back by the events reader (``detect run``'s path), :func:`detect` at the end of
    the month for the alerts, :func:`evaluate` day by day for the table (``parcelguard
    eval``). The labels are read only by the evaluation, never by the detectors.
    """
    import tempfile
    import time as clock

    from parcelguard.cli.eval import read_truth
    from parcelguard.detect.engine import Engine, read_events
    from parcelguard.detect.evaluate import evaluate
    from parcelguard.detect.run import detect
    from parcelguard.events import write_folder
    from parcelguard.simulate.run import simulate
    from parcelguard.simulate.world import WorldConfig

    console.print(Panel(TEXT["det_title"][lang], style="bold"))
    started = clock.perf_counter()
    config = WorldConfig(
        seed=CASE_SEED,
        days=DETECT_DAYS,
        employees=DETECT_EMPLOYEES,
        waybills_per_day=DETECT_WAYBILLS_PER_DAY,
    )
    world = simulate(config, [CASE_SCENARIO])
    with tempfile.TemporaryDirectory(prefix="parcelguard-detect-") as scratch:
        folder = Path(scratch)
        written = write_folder(folder, world, "parquet")
        tables = read_events(folder)
        labels = read_truth(folder / "labels.parquet")
    workflow = sum(written[n] for n in ("scans", "assignments", "tickets") if n in written)
    say(
        console,
        "det_world",
        lang,
        days=config.days,
        employees=tables["employees"].num_rows,
        waybills=tables["waybills"].num_rows,
        seed=config.seed,
        accesses=tables["accesses"].num_rows,
        workflow=workflow,
    )
    staff = tables["employees"]
    role = dict(zip(staff["employee_id"].to_pylist(), staff["role"].to_pylist(), strict=True))
    ran = clock.perf_counter()
    found = detect(Engine("duckdb", tables))
    run_seconds = clock.perf_counter() - ran
    alerts = list(found.alerts)
    say(
        console,
        "det_run",
        lang,
        events=found.events_read,
        scored=found.employees_scored,
        alerts=len(alerts),
        seconds=run_seconds,
        top=min(DETECT_TOP, len(alerts)),
    )
    _show_alerts(console, lang, alerts[:DETECT_TOP], role)
    evaluated = clock.perf_counter()
    report = evaluate(tables, labels)
    eval_seconds = clock.perf_counter() - evaluated
    case = cast(dict[str, Any], report["case"])
    pair = _show_pair(console, lang, alerts, role, case, found.frame.history)
    say(console, "det_eval", lang, days=report["days"], seconds=eval_seconds)
    _show_evaluation(console, lang, report, role)
    seconds = clock.perf_counter() - started
    say(console, "det_time", lang, seconds=seconds)
    return {
        "world": {
            "seed": config.seed,
            "days": config.days,
            "employees": staff.num_rows,
            "waybills": tables["waybills"].num_rows,
            "scenarios": [CASE_SCENARIO],
            "rows": written,
        },
        **found.summary(),
        "top": [_alert_summary(a, role) for a in alerts],
        "pair": pair,
        "evaluation": report,
        "run_seconds": round(run_seconds, 1),
        "eval_seconds": round(eval_seconds, 1),
        "seconds": round(seconds, 1),
    }


def _alert_summary(alert: Alert, role: dict[str, str]) -> dict[str, object]:
    """An alert as the JSON keeps it: its figures and reasons, the evidence as a count (the
    ids are in ``detect run``'s output; here they would only swell the demo's one line)."""
    out = alert.as_dict()
    del out["evidence"]
    return {**out, "role": role.get(alert.employee_id), "evidence_ids": len(alert.evidence)}


def _show_alerts(
    console: Console, lang: str, alerts: Sequence[Alert], role: dict[str, str]
) -> None:
    def t(key: str, **values: object) -> str:
        return _text(lang, key, **values)

    table = Table(box=None, padding=(0, 1))
    for key in ("rank", "account", "role", "score", "detectors"):
        table.add_column(t(f"det_col_{key}"), justify="right" if key == "score" else "left")
    for rank, alert in enumerate(alerts, 1):
        table.add_row(
            str(rank),
            alert.employee_id,
            role.get(alert.employee_id, "-"),
            f"{alert.score:.3f}",
            ", ".join(alert.detectors),
        )
    console.print(table)
    for rank, alert in enumerate(alerts, 1):
        say(
            console,
            "det_alert",
            lang,
            rank=rank,
            employee=alert.employee_id,
            role=role.get(alert.employee_id, "-"),
            score=alert.score,
            codes=len(alert.codes),
            alert=alert.alert_id,
        )
        for reason in alert.reasons[:DETECT_REASONS]:
            shown = reason.as_dict()
            say(
                console,
                "det_reason",
                lang,
                code=shown["code"],
                value=shown["value"],
                baseline=shown["baseline"],
                window=shown["window"],
                day=day_text(reason.day),
            )


def _collusion_pairs(alerts: Sequence[Alert]) -> list[tuple[Alert, Alert, Reason]]:
    """(revealer's alert, holder's alert, the revealer's reason) for every pair named.

    The collusion detector gives both ends of a pair one reason each, with the same figures
    and the same evidence (the revealer's lookups of the holder's waybills), and names the
    holder in the revealer's: that is how the two alerts are matched, with nothing recomputed.
    """
    pairs = []
    holders = [(a, r) for a in alerts for r in a.reasons if r.code == "holds_revealed_list"]
    for alert in alerts:
        for reason in alert.reasons:
            if reason.code != "revealed_one_holders_parcels":
                continue
            for holder, theirs in holders:
                if (
                    theirs.evidence_ids == reason.evidence_ids
                    and theirs.value == reason.value
                    and holder.employee_id in reason.detail
                ):
                    pairs.append((alert, holder, reason))
    return pairs


def _show_pair(
    console: Console,
    lang: str,
    alerts: Sequence[Alert],
    role: dict[str, str],
    case: dict[str, Any],
    history: Any,
) -> dict[str, object] | None:
    """The harvester–revealer pair among the alerts, checked against the world's labels.

    ``history`` is the run's per-account totals (a pandas frame): what the holder revealed
    himself, and how much of it no workflow relation explains.
    """
    import re

    pairs = _collusion_pairs(alerts)
    clerk, courier = case.get("clerk"), case.get("courier")
    pairs.sort(key=lambda p: (p[0].employee_id != clerk, -p[2].value))  # the case's first
    if not pairs:
        say(console, "det_nopair", lang)
        return None
    revealer, holder, reason = pairs[0]
    mine = history[history["employee_id"] == holder.employee_id]
    own = int(mine["reveals"].sum())
    own_unexplained = int(mine["unexplained"].sum())
    of = re.search(r" of (\d+) waybills", reason.detail)
    say(
        console,
        "det_pair",
        lang,
        revealer=revealer.employee_id,
        revealer_role=role.get(revealer.employee_id, "-"),
        holder=holder.employee_id,
        holder_role=role.get(holder.employee_id, "-"),
        held=int(reason.value),
        of=int(of.group(1)) if of else int(reason.value),
        expected=reason.baseline,
        own=own,
        own_unexplained=own_unexplained,
        holder_codes=", ".join(sorted(holder.codes)),
        evidence=len(reason.evidence_ids),
    )
    is_case = revealer.employee_id == clerk and holder.employee_id == courier
    verdict = "det_pair_match" if is_case else "det_pair_mismatch"
    say(
        console,
        "det_pair_truth",
        lang,
        clerk=clerk or "-",
        courier=courier or "-",
        verdict=_text(lang, verdict),
    )
    return {
        "revealer": revealer.employee_id,
        "revealer_role": role.get(revealer.employee_id),
        "holder": holder.employee_id,
        "holder_role": role.get(holder.employee_id),
        "held": int(reason.value),
        "of": int(of.group(1)) if of else None,
        "expected": reason.baseline,
        "detail": reason.detail,
        "holder_codes": sorted(holder.codes),
        "holder_own_reveals": own,
        "holder_own_unexplained": own_unexplained,
        "evidence_ids": len(reason.evidence_ids),
        "is_case_pair": is_case,
        "pairs_named": len(pairs),
    }


def _show_evaluation(
    console: Console, lang: str, report: dict[str, object], role: dict[str, str]
) -> None:
    """The evaluation's two tables: per scenario and account, then per method."""

    def t(key: str, **values: object) -> str:
        return _text(lang, key, **values)

    def hours(row: dict[str, Any] | None) -> str:
        return "-" if row is None or row["hours_to_alert"] is None else f"{row['hours_to_alert']}"

    baselines = cast(dict[str, dict[str, Any]], report["baselines"])
    by_baseline = {
        name: {r["employee_id"]: r for r in figures["accounts"]}
        for name, figures in baselines.items()
    }
    accounts = cast(list[dict[str, Any]], report["accounts"])
    for scenario in dict.fromkeys(row["scenario"] for row in accounts):
        say(console, "det_scenario", lang, scenario=scenario)
        table = Table(box=None, padding=(0, 1))
        heads = ("account", "role", "records", "hours", "by_then")
        for key in heads:
            table.add_column(t(f"det_col_{key}"), justify="left" if key in heads[:2] else "right")
        for name in baselines:
            table.add_column(t(f"det_m_{name}"), justify="right")
        for row in (r for r in accounts if r["scenario"] == scenario):
            by_then = row["records_by_then"]
            table.add_row(
                row["employee_id"],
                role.get(row["employee_id"], "-"),
                f"{row['records_total']:,}",
                hours(row),
                "-" if by_then is None else f"{by_then:,}",
                *(hours(by_baseline[name].get(row["employee_id"])) for name in baselines),
            )
        console.print(table)
    methods = Table(box=None, padding=(0, 1))
    for key in ("method", "accounts", "scenarios", "p10", "pk", "false"):
        methods.add_column(t(f"det_col_{key}"), justify="left" if key == "method" else "right")
    rows: list[tuple[str, dict[str, Any]]] = [
        ("detectors", cast(dict[str, Any], report["detectors"])),
        ("feedback", cast(dict[str, Any], report["detectors_with_feedback"])),
        *baselines.items(),
    ]
    for name, figures in rows:
        methods.add_row(
            t(f"det_m_{name}"),
            f"{figures['accounts_detected']}/{report['labelled_accounts']}",
            f"{figures['scenarios_detected']}/{figures['scenarios']}",
            str(figures["precision_at_10"]),
            str(figures["precision_at_labelled"]),
            str(figures["false_per_10k_employee_days"]),
        )
    console.print(methods)
    say(
        console,
        "det_hours_note",
        lang,
        k=report["labelled_accounts"],
        employee_days=report["employee_days"],
    )
    case = cast(dict[str, Any], report["case"])
    if case:

        def shown(value: object) -> object:
            return "-" if value is None else value

        say(
            console,
            "det_case",
            lang,
            clerk=case["clerk"],
            courier=shown(case["courier"]),
            clerk_hours=shown(case["clerk_hours_from_clerk_start"]),
            courier_hours=shown(case["courier_hours_from_clerk_start"]),
            both=case["both_within_24h"],
        )


def _text(lang: str, key: str, **values: object) -> str:
    return TEXT[key].get(lang, TEXT[key]["en"]).format(**values)


def _p_text(p: float) -> str:
    """A tail below the smallest double reads as a bound, not as an impossible zero."""
    return "< 1e-300" if p == 0.0 else f"≈ {p:.1e}"
