"""``parcelguard detect``: batch detection over an events folder, and analyst feedback.

``run`` reads the exchange format (``shared/spec/events.md``), writes one alert a line to
``--out`` (atomically: a crash leaves no half-written file) and ends with one JSON line
holding ``events_read``, ``employees_scored`` and ``alerts``. ``feedback`` records an
analyst's confirm or dismiss; later runs re-rank their alerts by it.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from parcelguard.cli.output import Render, finish, json_line
from parcelguard.core.errors import BadInput
from parcelguard.i18n import pick_language, t

app = typer.Typer(
    help="Batch detection over the audit log and the workflow. 批量检测内部泄露。",
    no_args_is_help=True,
)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object as the last line.")]
LangOpt = Annotated[str | None, typer.Option("--lang", help="zh or en (default: locale).")]


def until_micros(text: str | None) -> int | None:
    """``--until`` as POSIX microseconds; the time must carry its UTC offset."""
    if text is None:
        return None
    from parcelguard.audit.export import parse_until

    moment = parse_until(text)
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _check_out(out: Path) -> None:
    if out.is_dir():
        raise BadInput(f"--out {out}: is a folder; name a file such as alerts.jsonl")
    if not out.parent.is_dir():
        raise BadInput(f"--out {out}: folder {out.parent} does not exist", code="no_folder")


def write_lines(out: Path, lines: list[str]) -> None:
    """All lines or none: written beside ``out`` and renamed into place."""
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as f:
            f.writelines(f"{line}\n" for line in lines)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


@app.command("run")
def run_command(
    out: Annotated[Path, typer.Option("--out", help="Alerts, one JSON object a line.")],
    events: Annotated[
        Path | None,
        typer.Option(
            "--events",
            help="Folder of event tables (with --from-store: where the export goes). 事件文件夹。",
        ),
    ] = None,
    from_store: Annotated[
        bool,
        typer.Option(
            "--from-store",
            help="Export the store's audit log and workflow first, then detect. 先从库中导出。",
        ),
    ] = False,
    until: Annotated[
        str | None,
        typer.Option("--until", help="Only events at or before this time (ISO 8601, offset)."),
    ] = None,
    engine: Annotated[str, typer.Option("--engine", help="duckdb (default) or spark.")] = "duckdb",
    pattern: Annotated[
        str | None,
        typer.Option("--pattern", help="The carrier's own waybill numbers (regex)."),
    ] = None,
    no_feedback: Annotated[
        bool, typer.Option("--no-feedback", help="Ignore analysts' feedback when ranking.")
    ] = False,
    json_mode: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Detect insiders in an events folder; alerts with reasons to --out. 检测并输出告警。"""
    language = pick_language(lang)

    def action() -> dict[str, object]:
        from parcelguard.config import Settings
        from parcelguard.detect.engine import ENGINES, Engine, read_events
        from parcelguard.detect.feedback import FeedbackStore, rerank
        from parcelguard.detect.run import detect

        if engine not in ENGINES:
            raise BadInput(f"--engine {engine}: use one of {', '.join(ENGINES)}")
        limit = until_micros(until)
        _check_out(out)
        settings = Settings.from_env()
        chosen = pattern or os.environ.get("PARCELGUARD_WAYBILL_PATTERN") or r"PG\d{12}"
        exported: dict[str, object] | None = None
        with tempfile.TemporaryDirectory(prefix="parcelguard-store-") as scratch:
            if from_store:
                from parcelguard.audit.export import parse_until
                from parcelguard.detect.engine import integer_times
                from parcelguard.detect.from_store import export_store

                folder = events or Path(scratch) / "events"
                moment = None if until is None else parse_until(until)
                export = export_store(settings.db_url, folder, moment)
                exported = export.as_dict()
                tables = read_events(folder)
                tables["cases"] = integer_times(export.cases)
            elif events is None:
                raise BadInput("--events DIR is required (or --from-store)")
            else:
                tables = read_events(events)
            result = detect(Engine(engine, tables), limit, pattern=chosen)
        store = FeedbackStore(settings.home)
        decisions = [] if no_feedback else store.decisions()
        alerts = rerank(result.alerts, decisions) if decisions else list(result.alerts)
        lines = [json_line(a.as_dict()) for a in alerts]
        write_lines(out, lines)
        store.remember_alerts(lines)
        return {
            **result.summary(),
            "out": str(out),
            "engine": engine,
            "until": until,
            "feedback_used": len(decisions),
            "exported": exported,
            "top": [
                {
                    "alert_id": a.alert_id,
                    "employee_id": a.employee_id,
                    "score": round(a.score, 4),
                    "codes": sorted(a.codes),
                }
                for a in alerts[:10]
            ],
        }

    def render(result: dict[str, object]) -> Render:
        def show(console: Console) -> None:
            console.print(t("detect.done", language, **result))
            table = Table(*t("detect.head", language).split("|"))
            top = result["top"]
            assert isinstance(top, list)
            for row in top:
                table.add_row(
                    row["alert_id"],
                    row["employee_id"],
                    f"{row['score']:.3f}",
                    ", ".join(row["codes"]),
                )
            console.print(table)

        return show

    finish(json_mode, action, render, language)


@app.command("feedback")
def feedback_command(
    alert: Annotated[str, typer.Argument(help="The alert id (alert_id in the alerts file).")],
    label: Annotated[str, typer.Argument(help="confirm or dismiss. 确认或驳回。")],
    alerts: Annotated[
        Path | None,
        typer.Option("--alerts", help="Alerts file to find ALERT in (default: the last run's)."),
    ] = None,
    json_mode: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Confirm or dismiss an alert; later runs re-rank by it. 分析员反馈。"""
    language = pick_language(lang)

    def action() -> dict[str, object]:
        from parcelguard.config import Settings
        from parcelguard.core.clock import utc_now
        from parcelguard.detect.feedback import Decision, FeedbackStore, parse_label

        chosen = parse_label(label)
        store = FeedbackStore(Settings.from_env().home)
        record = store.find_alert(alert, alerts)
        reasons = record.get("reasons", [])
        codes = tuple(
            sorted({str(r["code"]) for r in reasons if isinstance(r, dict) and "code" in r})
            if isinstance(reasons, list)
            else ()
        )
        decision = Decision(alert, str(record["employee_id"]), codes, chosen, utc_now().isoformat())
        store.add(decision)
        return {"decision": decision.as_dict(), "decisions": len(store.decisions())}

    def render(result: dict[str, object]) -> Render:
        return lambda console: console.print(t("detect.feedback_done", language, **result))

    finish(json_mode, action, render, language)
