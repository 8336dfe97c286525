"""``parcelguard simulate``: write a world in the exchange format, and describe one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TimeElapsedColumn

from parcelguard.cli.output import Render, finish
from parcelguard.core.errors import BadInput
from parcelguard.i18n import pick_language

app = typer.Typer(
    help="The simulated carrier with insiders and ground truth. 仿真快递公司（含内部泄露场景与真值）。",
    invoke_without_command=True,
)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object as the last line.")]
LangOpt = Annotated[str | None, typer.Option("--lang", help="zh or en (default: locale).")]


@app.callback()
def simulate_command(
    ctx: typer.Context,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder to write the tables to.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed")] = 2016,
    days: Annotated[int, typer.Option("--days")] = 7,
    employees: Annotated[int, typer.Option("--employees")] = 2_000,
    waybills_per_day: Annotated[int, typer.Option("--waybills-per-day")] = 150_000,
    scenarios: Annotated[str, typer.Option("--scenarios", help="all, none, or a,b,…")] = "all",
    regime: Annotated[str, typer.Option("--regime")] = "legacy",
    start: Annotated[str, typer.Option("--start", help="First day, YYYY-MM-DD.")] = "2016-10-01",
    csv: Annotated[bool, typer.Option("--csv", help="CSV instead of Parquet.")] = False,
    into_store: Annotated[
        bool,
        typer.Option(
            "--into-store", help="Also put the waybills, with synthetic recipients, into the vault."
        ),
    ] = False,
    json_mode: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Simulate a carrier and write it in the exchange format. 生成仿真数据。"""
    if ctx.invoked_subcommand is not None:
        return
    language = pick_language(lang)

    def action() -> dict[str, object]:
        from parcelguard.events import write_folder_chunks
        from parcelguard.events.io import Format
        from parcelguard.simulate.run import scenario_names, simulate_chunks
        from parcelguard.simulate.world import WorldConfig, default_peak

        if out is None:
            raise BadInput("--out: give the folder to write the world to")
        try:
            first = date.fromisoformat(start)
        except ValueError:
            raise BadInput(f"--start {start}: not a date (write YYYY-MM-DD)") from None
        config = WorldConfig(
            seed=seed,
            days=days,
            employees=employees,
            waybills_per_day=waybills_per_day,
            start=first,
            regime=regime,
            peak_days=default_peak(days),
        )
        names = scenario_names(scenarios)
        with Progress(
            SpinnerColumn(),
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            disable=json_mode,
            transient=True,
        ) as bar:
            days_done = bar.add_task("days / 天", total=days)
            fmt: Format = "csv" if csv else "parquet"
            kept: dict[str, list[pa.Table]] = {"waybills": [], "senders": []}

            def keep(chunks: Iterator[tuple[str, pa.Table]]) -> Iterator[tuple[str, pa.Table]]:
                for name, chunk in chunks:  # the vault needs these two; keep them if asked
                    if into_store and name in kept:
                        kept[name].append(chunk)
                    yield name, chunk
                    if name == "waybills":
                        bar.advance(days_done)

            rows = write_folder_chunks(out, keep(simulate_chunks(config, names)), fmt)
            stored = None
            if into_store:
                tables = {name: pa.concat_tables(parts) for name, parts in kept.items()}
                from parcelguard.admin import initialise, key_provider
                from parcelguard.config import Settings
                from parcelguard.simulate.into_store import put_world

                settings = Settings.from_env()
                initialise(settings)
                stored = put_world(tables, seed, settings, key_provider(settings)).as_dict()
        return {
            "out": str(out),
            "seed": seed,
            "scenarios": names,
            "rows": rows,
            "into_store": stored,
        }

    def render(result: dict[str, object]) -> Render:
        def show(console: Console) -> None:
            console.print(f"[bold green]{result['out']}[/]")
            for table, count in result["rows"].items():  # type: ignore[attr-defined]
                console.print(f"  {table:<12} {count:>12,}")

        return show

    finish(json_mode, action, render, language)


@app.command("describe")
def describe_command(
    folder: Annotated[Path, typer.Argument(help="A folder in the exchange format.")],
    json_mode: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """The world's vital statistics. 仿真数据概况。"""
    language = pick_language(lang)

    def action() -> dict[str, object]:
        from parcelguard.events import read_folder
        from parcelguard.simulate.run import describe

        return {"folder": str(folder), **describe(read_folder(folder))}

    def render(result: dict[str, object]) -> Render:
        def show(console: Console) -> None:
            for key, value in result.items():
                console.print(f"[bold]{key}[/]: {value}")

        return show

    finish(json_mode, action, render, language)
