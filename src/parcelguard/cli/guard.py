"""``parcelguard guard``: who is contained, lifting a containment, and tuning the quotas.

Lifting is the one act here that gives access back, so it needs the staff id of the person
doing it and a written reason, and it is appended to the audit log like the containment was.
Tuning only proposes: it prints quotas learned from a history, and writes a ``guard.toml``
only where ``--out`` says, never over a file without ``--force``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from parcelguard.cli.output import Render, finish, write_text_atomically
from parcelguard.core.errors import BadInput
from parcelguard.i18n import pick_language

if TYPE_CHECKING:
    from parcelguard.reveal.guard.tune import History

app = typer.Typer(
    help="The online guard: containments and quotas. 在线风控：账号封控与配额。",
    no_args_is_help=True,
)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object as the last line.")]
LangOpt = Annotated[str | None, typer.Option("--lang", help="zh or en (default: locale).")]

_HEAD = {
    "en": ("employee", "contained at", "signals", "alert", "lifted by", "lifted at"),
    "zh": ("员工", "封控时间", "信号", "告警编号", "解除人", "解除时间"),
}


@app.command("status")
def status_command(
    all_: Annotated[bool, typer.Option("--all", help="Lifted ones too. 含已解除。")] = False,
    json_mode: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Accounts suspended from personal-data access. 被暂停调阅个人信息的账号。"""
    language = pick_language(lang)

    def action() -> dict[str, object]:
        from parcelguard.config import Settings
        from parcelguard.reveal.guard import Containments
        from parcelguard.storage import connect_current

        engine = connect_current(Settings.from_env().db_url)
        try:
            rows = Containments(engine).history(active_only=not all_)
        finally:
            engine.dispose()
        return {"containments": [row.as_dict() for row in rows]}

    def render(result: dict[str, object]) -> Render:
        def show(console: Console) -> None:
            table = Table(*_HEAD[language])
            rows = result["containments"]
            assert isinstance(rows, list)
            for row in rows:
                table.add_row(
                    row["employee_id"],
                    row["contained_at"][:16],
                    ", ".join(row["reasons"]),
                    row["alert_id"],
                    row["released_by"] or "",
                    (row["released_at"] or "")[:16],
                )
            console.print(table)

        return show

    finish(json_mode, action, render, language)


@app.command("release")
def release_command(
    employee: Annotated[str, typer.Argument(help="The contained employee id. 被封控员工。")],
    by: Annotated[str, typer.Option("--by", help="Your staff id. 解除人工号。")],
    reason: Annotated[str, typer.Option("--reason", help="Why. 解除原因。")],
    json_mode: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Lift a containment; audited with your staff id. 解除封控（记入审计日志）。"""
    language = pick_language(lang)

    def action() -> dict[str, object]:
        from parcelguard.admin import open_audit_log
        from parcelguard.config import Settings
        from parcelguard.core.clock import utc_now
        from parcelguard.reveal.guard import Containments
        from parcelguard.reveal.guard.audit import lift

        log = open_audit_log(Settings.from_env())
        try:
            done, index = lift(
                Containments(log.engine), log.append, employee, by, reason, utc_now()
            )
        finally:
            log.engine.dispose()
        return {"containment": done.as_dict(), "audit_index": index}

    def render(result: dict[str, object]) -> Render:
        def show(console: Console) -> None:
            text = {"en": "lifted; audit entry", "zh": "已解除；审计条目"}[language]
            console.print(f"{employee}: {text} #{result['audit_index']}")

        return show

    finish(json_mode, action, render, language)


_TUNE_HEAD = {
    "en": ("group", "accounts", "reveals", "quota 10m/1h/1d", "learned", "over"),
    "zh": ("同类分组", "账号", "调阅", "配额 10分/1时/1天", "历史所得", "超额"),
}
_TUNE_TEXT = {
    "en": {
        "no": "too small",
        "hidden": "{n} groups without reveals are not shown (they keep their floors).",
        "basis": "Basis: {reveals} reveals of {accounts} accounts; {insiders} labelled insiders left out; target share {target}.",
        "in_sample": "In sample ({events}): {share} of legitimate reveals over quota ({raw} without the floors), {contained} honest accounts would be contained.",
        "check": "Check on {events}: {share} of legitimate reveals over quota ({raw} without the floors), {contained} honest accounts would be contained; {caught} of {insiders} labelled insiders stepped up, {held} contained.",
        "wrote": "Wrote {out}.",
    },
    "zh": {
        "no": "样本不足",
        "hidden": "另有 {n} 个分组没有调阅，未列出（沿用下限）。",
        "basis": "依据：{accounts} 个账号的 {reveals} 次调阅；剔除已标注内鬼 {insiders} 个；目标占比 {target}。",
        "in_sample": "样本内（{events}）：合法调阅超配额占比 {share}（不计下限时 {raw}），将误封诚实账号 {contained} 个。",
        "check": "在 {events} 上检验：合法调阅超配额占比 {share}（不计下限时 {raw}），将误封诚实账号 {contained} 个；已标注内鬼 {insiders} 个中 {caught} 个触发二次验证，{held} 个被封控。",
        "wrote": "已写入 {out}。",
    },
}


def read_history(folder: Path) -> History:
    """A history folder's counted reveals; the labels too when the folder has them."""
    from parcelguard.events import read_folder
    from parcelguard.events.io import load_table
    from parcelguard.reveal.guard.tune import TABLES_NEEDED, history_from_tables

    tables = read_folder(folder, TABLES_NEEDED)
    labels = load_table(folder, "labels")
    if labels.problems:
        raise BadInput(f"{folder}: {labels.problems[0]}", code=labels.problems[0].code)
    if labels.table is not None:
        tables["labels"] = labels.table
    return history_from_tables(tables, str(folder))


@app.command("tune")
def tune_command(
    events: Annotated[
        Path, typer.Option("--events", help="History in the exchange format. 历史事件目录。")
    ],
    target_share: Annotated[
        float,
        typer.Option(
            "--target-share",
            help="Share of legitimate reveals a quota may step up. 允许触发二次验证的合法调阅占比。",
        ),
    ] = 0.005,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write guard.toml here. 写入 guard.toml。")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing --out. 覆盖已有文件。")
    ] = False,
    check_events: Annotated[
        Path | None,
        typer.Option(
            "--check",
            help="Another history to measure the proposal on. 用另一份历史检验建议值。",
        ),
    ] = None,
    json_mode: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Propose quotas per peer group from a history. 依据历史为各同类分组建议配额。"""
    language = pick_language(lang)

    def action() -> dict[str, object]:
        from parcelguard.reveal.guard.tune import check, check_target_share, tune

        check_target_share(target_share)
        keep = _guard_settings_to_keep(out, force) if out is not None else None
        history = read_history(events)
        proposal = tune(history, target_share, source=str(events))
        config, unfloored = proposal.config(), proposal.unfloored_config()

        def measured(on: History) -> dict[str, object]:
            share = check(on, unfloored).legit_stepped_up_share
            return {**check(on, config).as_dict(), "unfloored_stepped_up_share": share}

        result: dict[str, object] = {
            "events": str(events),
            **proposal.as_dict(),
            "in_sample": measured(history),
            "check": None,
            "out": None,
        }
        if check_events is not None:
            result["check"] = {"events": str(check_events), **measured(read_history(check_events))}
        if out is not None:
            write_text_atomically(out, proposal.to_toml(keep))
            result["out"] = str(out)
        return result

    def render(result: dict[str, object]) -> Render:
        text = _TUNE_TEXT[language]

        def show(console: Console) -> None:
            table = Table(*_TUNE_HEAD[language])
            groups = result["groups"]
            assert isinstance(groups, list)
            shown = [g for g in groups if g["reveals"]]
            for g in shown:
                observed = g["observed"]
                table.add_row(
                    g["group"],
                    str(g["accounts"]),
                    str(g["reveals"]),
                    "/".join(str(q) for q in g["quota"]),
                    "/".join(str(q) for q in observed) if observed else text["no"],
                    f"{g['affected_any']:.2%}",
                )
            console.print(table)
            if len(shown) < len(groups):
                console.print(text["hidden"].format(n=len(groups) - len(shown)))
            console.print(
                text["basis"].format(
                    reveals=result["reveals"],
                    accounts=result["accounts"],
                    insiders=result["insiders_excluded"],
                    target=result["target_share"],
                )
            )
            for key in ("in_sample", "check"):
                found = result[key]
                if not isinstance(found, dict):
                    continue
                console.print(
                    text[key].format(
                        events=found.get("events", result["events"]),
                        share=f"{found['legit_stepped_up_share']:.3%}",
                        raw=f"{found['unfloored_stepped_up_share']:.3%}",
                        contained=found["legit_accounts_contained"],
                        caught=found["insiders_stepped_up"],
                        held=found["insiders_contained"],
                        insiders=found["insiders"],
                    )
                )
            if result["out"]:
                console.print(text["wrote"].format(out=result["out"]))

        return show

    finish(json_mode, action, render, language)


def _guard_settings_to_keep(out: Path, force: bool) -> dict[str, object]:
    """Refuse to replace ``out`` without ``--force``; when replacing it, keep its [guard] table.

    The file must load as a guard configuration first: replacing a file that does not would
    silently drop whatever the operator meant by it.
    """
    import tomllib

    from parcelguard.reveal.guard.config import GuardConfig

    if out.is_dir():
        raise BadInput(f"--out {out}: is a folder; give a file name such as guard.toml")
    if not out.parent.is_dir():
        raise BadInput(f"--out {out}: the folder {out.parent} does not exist")
    if not out.exists():
        return {}
    if not force:
        raise BadInput(f"--out {out}: exists; add --force to replace it")
    GuardConfig.load(out)
    settings = tomllib.loads(out.read_text(encoding="utf-8")).get("guard", {})
    return dict(settings)
