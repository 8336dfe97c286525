"""Commands. Each one reads settings, calls the core, and ends through ``output.finish``."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn
from rich.table import Table

from parcelguard.admin import doctor, initialise, open_vault
from parcelguard.cli.audit import app as audit_app
from parcelguard.cli.detect import app as detect_app
from parcelguard.cli.eval import eval_command
from parcelguard.cli.guard import app as guard_app
from parcelguard.cli.label import app as label_app
from parcelguard.cli.leak import app as leak_app
from parcelguard.cli.legal import app as legal_app
from parcelguard.cli.output import Render, finish, json_line, write_text_atomically
from parcelguard.cli.policy import app as policy_app
from parcelguard.cli.serve import api_app, serve_command
from parcelguard.cli.simulate import app as simulate_app
from parcelguard.cli.vnum import app as vnum_app
from parcelguard.config import Settings
from parcelguard.core.clock import utc_now
from parcelguard.core.errors import BadInput
from parcelguard.i18n import pick_language, t
from parcelguard.vault.sender_file import read_sender_file

app = typer.Typer(
    name="parcelguard",
    help="ParcelGuard: recipient data behind one audited door. 收件人信息，只有一扇受审计的门。",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
vault_app = typer.Typer(
    help="The encrypted vault of recipient data. 加密的收件人信息库。", no_args_is_help=True
)
app.add_typer(vault_app, name="vault")
app.add_typer(simulate_app, name="simulate")
app.add_typer(audit_app, name="audit")
app.add_typer(policy_app, name="policy")
app.add_typer(vnum_app, name="vnum")
app.add_typer(guard_app, name="guard")
app.add_typer(detect_app, name="detect")
app.command("eval")(eval_command)
app.add_typer(label_app, name="label")
app.add_typer(leak_app, name="leak")
app.add_typer(legal_app, name="legal")
app.add_typer(api_app, name="api")
app.command("serve")(serve_command)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object as the last line.")]
LangOpt = Annotated[
    str | None, typer.Option("--lang", help="Language of the output: zh or en (default: locale).")
]


def _table(title: str, data: dict[str, object], lang: str) -> Render:
    def render(console: Console) -> None:
        table = Table(title=title, show_header=False)
        for key, value in data.items():
            table.add_row(t(f"label.{key}", lang), "" if value is None else str(value))
        console.print(table)

    return render


@app.command("init")
def init_command(json_mode: JsonOpt = False, lang: LangOpt = None) -> None:
    """Create the store, the keys and the default policies (safe to run again). 初始化。"""
    language = pick_language(lang)

    def render(result: dict[str, object]) -> Render:
        def show(console: Console) -> None:
            console.print(f"[bold green]{t('init.done', language)}[/]: {result['database']}")
            created = result["created"]
            console.print(
                f"{t('init.created', language)}: {', '.join(map(str, created))}"  # type: ignore[call-overload]
                if created
                else t("init.nothing", language)
            )

        return show

    finish(json_mode, lambda: initialise(Settings.from_env()).as_dict(), render, language)


@app.command("doctor")
def doctor_command(json_mode: JsonOpt = False, lang: LangOpt = None) -> None:
    """Report backend, schema version, key status and problems. 自检。"""
    language = pick_language(lang)
    report: dict[str, object] = {}

    def action() -> dict[str, object]:
        report.update(doctor(Settings.from_env()))
        return report

    def render(result: dict[str, object]) -> Render:
        def show(console: Console) -> None:
            for key in ("database", "backend", "schema_version", "keys", "policies"):
                console.print(f"[bold]{key}[/]: {result.get(key)}")
            problems = result["problems"]
            if problems:
                console.print(f"[bold red]{t('doctor.problems', language)}:[/]")
                for problem in problems:  # type: ignore[attr-defined]
                    console.print(f"  - {problem}")
            else:
                console.print(f"[green]{t('doctor.ok', language)}[/]")

        return show

    finish(json_mode, action, render, language)
    if report.get("problems"):
        raise typer.Exit(1)


@vault_app.command("put")
def vault_put(
    file: Annotated[Path, typer.Argument(help="CSV with a header, or JSON lines, of waybills.")],
    json_mode: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Encrypt and store a sender system's waybills; all or nothing. 加密存入运单。"""
    language = pick_language(lang)

    def action() -> dict[str, object]:
        settings = Settings.from_env()
        with open_vault(settings) as vault:
            size = file.stat().st_size if file.is_file() else 0
            show = not json_mode and stderr_is_terminal()
            with Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                disable=not show,
                console=Console(stderr=True),
            ) as bar:
                task = bar.add_task(t("put.reading", language), total=size)
                parsed = read_sender_file(
                    file, settings.rules, utc_now(), lambda n: bar.advance(task, n)
                )
                return {"file": str(file), **vault.put_parsed(parsed).as_dict()}

    def render(result: dict[str, object]) -> Render:
        return lambda console: console.print(t("put.done", language, **result))

    finish(json_mode, action, render, language)


@vault_app.command("stats")
def vault_stats(json_mode: JsonOpt = False, lang: LangOpt = None) -> None:
    """Counts of waybills, keys and shredded data. 统计。"""
    language = pick_language(lang)

    def action() -> dict[str, object]:
        with open_vault(Settings.from_env()) as vault:
            return vault.stats()

    finish(
        json_mode,
        action,
        lambda result: _table(t("stats.title", language), result, language),
        language,
    )


@vault_app.command("shred")
def vault_shred(
    before: Annotated[
        str | None,
        typer.Option(
            "--before",
            help="Destroy the data keys of every day before this date (YYYY-MM-DD, Beijing). "
            "Default: today minus the retention period.",
        ),
    ] = None,
    json_mode: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Crypto-shred old days: their recipient fields become unrecoverable. 按日期粉碎。"""
    language = pick_language(lang)

    def action() -> dict[str, object]:
        day = _parse_day("--before", before) if before is not None else None
        with open_vault(Settings.from_env()) as vault:
            return vault.shred(day).as_dict()

    def render(result: dict[str, object]) -> Render:
        return lambda console: console.print(t("shred.done", language, **result))

    finish(json_mode, action, render, language)


@app.command("demo")
def demo_command(
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Do not serve the console at the end.")
    ] = False,
    json_mode: JsonOpt = False,
    lang: LangOpt = None,
    summary: Annotated[
        Path | None,
        typer.Option(
            "--summary",
            help="Also write the run's figures (the --json object) to this file when "
            "the story ends. 讲完后把本次的数据写入该文件。",
        ),
    ] = None,
) -> None:
    """The product's story, chapter by chapter, on synthetic data. 演示。"""
    from parcelguard.cli.demo import run_demo

    language = pick_language(lang)

    def action() -> dict[str, object]:
        if summary is not None:  # checked before the story: it takes minutes
            _check_writable_file("--summary", summary)
        result = run_demo(Settings.from_env(), language, quiet=json_mode, serve=not no_serve)
        if summary is not None:
            write_text_atomically(summary, json_line({"ok": True, **result}) + "\n")
        return result

    finish(json_mode, action, lambda result: lambda console: None, language)


def _check_writable_file(option: str, path: Path) -> None:
    """A file this command may create or replace, or :class:`BadInput` naming the problem."""
    import os

    if path.is_dir():
        raise BadInput(f"{option} {path}: is a folder; name a file")
    if not path.parent.is_dir():
        raise BadInput(f"{option} {path}: the folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise BadInput(f"{option} {path}: the folder {path.parent} is not writable")


def _parse_day(option: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadInput(f"{option} {text}: not a date (write YYYY-MM-DD)") from None


def stderr_is_terminal() -> bool:
    import sys

    return sys.stderr.isatty()
