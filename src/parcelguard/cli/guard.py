"""``parcelguard guard``: who is contained, and lifting a containment by a named person.

Lifting is the one act here that gives access back, so it needs the staff id of the person
doing it and a written reason, and it is appended to the audit log like the containment was.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from parcelguard.cli.output import Render, finish
from parcelguard.i18n import pick_language

app = typer.Typer(help="The online guard: containments. 在线风控：账号封控。", no_args_is_help=True)
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
