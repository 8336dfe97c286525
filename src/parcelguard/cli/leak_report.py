"""``parcelguard leak report CASE --out DIR``: the case written up for investigators and court.

ReportLab is imported inside the command, so the rest of the CLI starts without it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from parcelguard.cli.output import Render, finish
from parcelguard.i18n import pick_language

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object as the last line.")]
LangOpt = Annotated[str | None, typer.Option("--lang", help="zh or en (default: locale).")]

_TEXT = {
    "done": {
        "en": "case {case}: report written to {out} ({files})",
        "zh": "案件 {case}：报告已写入 {out}（{files}）",
    },
    "severity": {
        "en": "legal assessment of the whole file: {severity}",
        "zh": "整个文件的法律评估：{severity}",
    },
    "source": {
        "en": "source {employee_id} ({role}, {site_id}): alone explains {alone:.1%}, "
        "explains {share:.1%} of the leaked records",
        "zh": "来源账号 {employee_id}（{role}，{site_id}）：单独解释 {alone:.1%}，"
        "共解释泄露记录的 {share:.1%}",
    },
    "nosource": {
        "en": "no account explains enough of the file to be named a source",
        "zh": "没有账号解释足够多的记录，无法认定来源",
    },
    "verify": {
        "en": "check the evidence offline: parcelguard audit verify-bundle {bundle} --pubkey {key}",
        "zh": "离线校验证据：parcelguard audit verify-bundle {bundle} --pubkey {key}",
    },
}
_SEVERITY = {
    "none": {"en": "below “serious”", "zh": "未达“情节严重”"},
    "serious": {"en": "serious (情节严重)", "zh": "情节严重"},
    "especially_serious": {"en": "especially serious (情节特别严重)", "zh": "情节特别严重"},
}


def report_command(
    case: Annotated[str, typer.Argument(help="The case name (from `leak ingest`). 案件名。")],
    out: Annotated[Path, typer.Option("--out", help="Directory to write the report to.")],
    category: Annotated[
        str | None,
        typer.Option(
            "--category",
            help="Category the leaked waybill records count as (default: general). 记录类别。",
        ),
    ] = None,
    facts: Annotated[
        Path | None,
        typer.Option("--facts", help="JSON file of the case's facts (gains, duties…). 案件事实。"),
    ] = None,
    rematch: Annotated[
        bool, typer.Option("--rematch", help="Match and attribute again, even if done.")
    ] = False,
    json_mode: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Write the case's PDF and JSON report, legal assessment and evidence bundle. 案件报告。"""
    language = pick_language(lang)

    def action() -> dict[str, object]:
        from parcelguard.cli.legal import read_case
        from parcelguard.config import Settings
        from parcelguard.core.clock import utc_now
        from parcelguard.forensics.case import CaseDir
        from parcelguard.forensics.report import write_case_report

        settings = Settings.from_env()
        written = write_case_report(
            settings,
            CaseDir.under(settings.home, case),
            out,
            category=category,
            facts=None if facts is None else read_case(facts),
            now=utc_now(),
            rematch=rematch,
        )
        return {"case": case, **written.as_dict()}

    def render(result: dict[str, object]) -> Render:
        def show(console: Console) -> None:
            files = result["files"]
            assert isinstance(files, dict)
            say = _say(console, language)
            say("done", case=result["case"], out=result["out"], files=", ".join(files.values()))
            severity = str(result["severity"])
            say("severity", severity=_SEVERITY.get(severity, {}).get(language, severity))
            sources = result["sources"]
            assert isinstance(sources, list)
            for source in sources:
                say(
                    "source",
                    employee_id=source["employee_id"],
                    role=source["role"],
                    site_id=source["site_id"],
                    alone=float(source["alone_share"] or 0),
                    share=float(source["share"] or 0),
                )
            if not sources:
                say("nosource")
            if "evidence" in files:
                out_dir = Path(str(result["out"]))
                say(
                    "verify",
                    bundle=out_dir / str(files["evidence"]),
                    key=out_dir / str(files["log_key"]),
                )

        return show

    finish(json_mode, action, render, language)


def _say(console: Console, language: str) -> Callable[..., None]:
    def say(key: str, **values: object) -> None:
        console.print(_TEXT[key][language].format(**values), markup=False, highlight=False)

    return say
