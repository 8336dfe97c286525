"""``parcelguard policy``: test the reveal policies against their case table; explain a decision."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from parcelguard.cli.output import Render, finish
from parcelguard.i18n import pick_language

app = typer.Typer(help="Reveal policies (Cedar). 调阅策略。", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object as the last line.")]
LangOpt = Annotated[str | None, typer.Option("--lang", help="zh or en (default: locale).")]
DirOpt = Annotated[
    Path | None,
    typer.Option("--dir", help="Policy directory (default: $PARCELGUARD_HOME/policies)."),
]


def _policy_dir(given: Path | None) -> Path:
    from parcelguard.config import Settings

    return given if given is not None else Settings.from_env().policy_dir


@app.command("test")
def policy_test_command(
    directory: DirOpt = None, json_mode: JsonOpt = False, lang: LangOpt = None
) -> None:
    """Run cases.toml against the policies; exit 1 if any case fails. 运行策略测试用例。"""
    outcome: dict[str, object] = {}

    def action() -> dict[str, object]:
        from parcelguard.reveal.engine import PolicyEngine
        from parcelguard.reveal.policy_cases import CASES_FILE, load_cases, run_cases

        folder = _policy_dir(directory)
        results = run_cases(PolicyEngine.load(folder), load_cases(folder / CASES_FILE))
        failed = [r.as_dict() for r in results if not r.passed]
        outcome.update(
            {
                "policy_dir": str(folder),
                "cases": len(results),
                "passed": len(results) - len(failed),
                "failed": failed,
                "results": [r.as_dict() for r in results],
            }
        )
        return outcome

    def render(result: dict[str, object]) -> Render:
        def show(console: Console) -> None:
            zh = pick_language(lang) == "zh"
            table = Table(title="策略测试" if zh else "Policy cases")
            for column in ("", "case", "expected", "got", "policy"):
                table.add_column(column)
            for row in result["results"]:  # type: ignore[attr-defined]
                mark = "[green]✓[/]" if row["passed"] else "[red]✗[/]"
                expected = row["expected"] + (
                    f" ({row['expected_form']})" if row["expected_form"] else ""
                )
                got = row["got"] + (f" ({row['form']})" if row["form"] else "")
                table.add_row(
                    mark, row["name"], expected, got, ", ".join(row["policy_ids"]) or row["reason"]
                )
            console.print(table)
            summary = f"{result['passed']}/{result['cases']}"
            console.print(("通过 " if zh else "passed ") + summary)

        return show

    finish(json_mode, action, render, pick_language(lang))
    if outcome and outcome["failed"]:
        raise typer.Exit(1)


@app.command("explain")
def explain_command(
    actor: Annotated[str, typer.Option("--actor", help="Employee id.")],
    waybill: Annotated[str, typer.Option("--waybill", help="Waybill number.")],
    field: Annotated[str, typer.Option("--field", help="name, phone or address.")] = "phone",
    purpose: Annotated[str, typer.Option("--purpose", help="delivery, pickup, ...")] = "delivery",
    device: Annotated[str, typer.Option("--device", help="The request's device id.")] = "",
    channel: Annotated[str, typer.Option("--channel", help="handheld, web or api.")] = "handheld",
    case: Annotated[str, typer.Option("--case", help="Investigation case id.")] = "",
    at: Annotated[
        str | None, typer.Option("--at", help="Decide as of this time (ISO 8601, offset).")
    ] = None,
    json_mode: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Which policy decides a request, and on which facts; reveals nothing. 解释策略决定。"""

    def action() -> dict[str, object]:
        from datetime import datetime

        from parcelguard.admin import open_reveal_service
        from parcelguard.config import Settings
        from parcelguard.core.clock import utc_now
        from parcelguard.core.errors import BadInput
        from parcelguard.reveal.facts import RevealRequest

        moment = utc_now()
        if at is not None:
            try:
                moment = datetime.fromisoformat(at)
            except ValueError:
                raise BadInput(f"--at {at}: not an ISO 8601 time") from None
            if moment.tzinfo is None:
                raise BadInput(f"--at {at}: give a time zone offset (+08:00)")
        service = open_reveal_service(Settings.from_env(), clock=lambda: moment)
        try:
            return service.explain(
                RevealRequest(
                    actor=actor,
                    waybill_no=waybill,
                    field=field,
                    purpose=purpose,
                    device_id=device,
                    channel=channel,
                    case_id=case,
                )
            )
        finally:
            service.engine.dispose()

    def render(result: dict[str, object]) -> Render:
        def show(console: Console) -> None:
            zh = pick_language(lang) == "zh"
            verdict = (
                ("允许" if zh else "allow") if result["allowed"] else ("拒绝" if zh else "deny")
            )
            texts = result["reason_text"]
            assert isinstance(texts, dict)
            console.print(
                f"[bold]{verdict}[/] — {texts['zh' if zh else 'en']} ({result['reason']})"
            )
            console.print(f"decided by: {result['decided_by']}")
            for policy in result["policies"]:  # type: ignore[attr-defined]
                console.print(f"  {policy['effect']} {policy['id']} ({policy['file']})")
            if result.get("facts"):
                console.print(result["facts"])

        return show

    finish(json_mode, action, render, pick_language(lang))
