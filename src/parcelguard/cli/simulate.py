"""``parcelguard simulate``: write a world in the exchange format, and describe one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pyarrow as pa
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TimeElapsedColumn,
)

from parcelguard.cli.output import Render, finish
from parcelguard.core.errors import BadInput
from parcelguard.i18n import pick_language

if TYPE_CHECKING:
    from parcelguard.simulate.world import WorldConfig

app = typer.Typer(
    help="The simulated carrier with insiders and ground truth. 仿真快递公司（含内部泄露场景与真值）。",
    invoke_without_command=True,
)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object as the last line.")]
LangOpt = Annotated[str | None, typer.Option("--lang", help="zh or en (default: locale).")]
# The world's options, shared by `simulate` and `simulate live` so both build the same world.
SeedOpt = Annotated[int, typer.Option("--seed")]
DaysOpt = Annotated[int, typer.Option("--days")]
EmployeesOpt = Annotated[int, typer.Option("--employees")]
WaybillsOpt = Annotated[int, typer.Option("--waybills-per-day")]
ScenariosOpt = Annotated[str, typer.Option("--scenarios", help="all, none, or a,b,…")]
StartOpt = Annotated[str, typer.Option("--start", help="First day, YYYY-MM-DD.")]
SEED, DAYS, EMPLOYEES, WAYBILLS_PER_DAY = 2016, 7, 2_000, 150_000
SCENARIOS, START = "all", "2016-10-01"


def world_config(
    seed: int, days: int, employees: int, waybills_per_day: int, start: str, regime: str = "legacy"
) -> WorldConfig:
    """The world the options describe; a bad date is the user's mistake, named."""
    from parcelguard.simulate.world import WorldConfig, default_peak

    try:
        first = date.fromisoformat(start)
    except ValueError:
        raise BadInput(f"--start {start}: not a date (write YYYY-MM-DD)") from None
    return WorldConfig(
        seed=seed,
        days=days,
        employees=employees,
        waybills_per_day=waybills_per_day,
        start=first,
        regime=regime,
        peak_days=default_peak(days),
    )


def _progress(json_mode: bool) -> Progress:
    """The progress bar on stderr, hidden when stdout carries JSON."""
    return Progress(
        SpinnerColumn(),
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=json_mode,
        transient=True,
    )


@app.callback()
def simulate_command(
    ctx: typer.Context,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder to write the tables to.")
    ] = None,
    seed: SeedOpt = SEED,
    days: DaysOpt = DAYS,
    employees: EmployeesOpt = EMPLOYEES,
    waybills_per_day: WaybillsOpt = WAYBILLS_PER_DAY,
    scenarios: ScenariosOpt = SCENARIOS,
    regime: Annotated[str, typer.Option("--regime")] = "legacy",
    start: StartOpt = START,
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

        if out is None:
            raise BadInput("--out: give the folder to write the world to")
        config = world_config(seed, days, employees, waybills_per_day, start, regime)
        names = scenario_names(scenarios)
        with _progress(json_mode) as bar:
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


LIVE_TEXT: dict[str, dict[str, str]] = {
    "title": {
        "en": "Live simulation, {regime} regime: {days} days, {employees:,} employees, "
        "{waybills:,} waybills, every reveal decided by the reveal service",
        "zh": "实时仿真（{regime}体制）：{days} 天，{employees:,} 名员工，{waybills:,} 个运单，"
        "每次调阅均由调阅服务实时裁决",
    },
    "both_title": {
        "en": "Live simulation, the same world in both regimes: {days} days, {employees:,} "
        "employees, {waybills:,} waybills",
        "zh": "实时仿真，同一世界两种体制对比：{days} 天，{employees:,} 名员工，{waybills:,} 个运单",
    },
    "employee": {"en": "employee", "zh": "员工"},
    "scenario": {"en": "scenario", "zh": "场景"},
    "role": {"en": "role", "zh": "角色"},
    "requests": {"en": "sent / planned", "zh": "实发/计划"},
    "denied": {"en": "denied", "zh": "被拒"},
    "records": {"en": "records", "zh": "泄露记录"},
    "before": {"en": "before containment", "zh": "封禁前"},
    "contained": {"en": "contained at", "zh": "封禁时间"},
    "minutes": {"en": "minutes", "zh": "分钟"},
    "honest": {
        "en": "Honest staff ({regime}): {total:,} reveals; allowed {allowed:.1%}, denied "
        "{denied:.1%}, stepped up {stepped:.1%}, masked {masked:.1%}; {contained} accounts "
        "contained ({rate} per 10,000 employee-days of {days:,}).",
        "zh": "正常员工（{regime}）：调阅 {total:,} 次；允许 {allowed:.1%}，拒绝 {denied:.1%}，"
        "需主管审批 {stepped:.1%}，改为掩码 {masked:.1%}；被封禁账号 {contained} 个"
        "（每万人日 {rate} 个，共 {days:,} 人日）。",
    },
    "speed": {
        "en": "{regime}: {decisions:,} decisions in {batches:,} batches, {rate:,.0f} decisions/s; "
        "wall time {wall:.1f} s (setup {setup:.1f} s).",
        "zh": "{regime}：{batches:,} 批共 {decisions:,} 次裁决，每秒 {rate:,.0f} 次；"
        "总耗时 {wall:.1f} 秒（准备 {setup:.1f} 秒）。",
    },
    "vnum": {
        "en": "Virtual number of {holder} for {waybill}: a call from the holder's device "
        "{own_device}: {own}; from another phone: {other}. It is no leaked record.",
        "zh": "{holder} 的运单 {waybill} 隐私号：从本人终端 {own_device} 拨打：{own}；"
        "从其他电话拨打：{other}。因此不算泄露记录。",
    },
    "no_vnum": {
        "en": "{regime}: no virtual number was handed out (every allowed phone was plaintext).",
        "zh": "{regime}：没有发放任何隐私号（所有允许的手机号均为明文）。",
    },
    "regime": {"en": "{regime}", "zh": "{regime}"},
    "legacy": {"en": "legacy", "zh": "旧权限"},
    "guarded": {"en": "guarded", "zh": "受控"},
}


def _say(lang: str, key: str, **values: object) -> str:
    entry = LIVE_TEXT[key]
    return (entry.get(lang) or entry["en"]).format(**values)


def _regimes(regime: str) -> list[str]:
    from parcelguard.simulate.live import LIVE_REGIMES

    if regime == "both":
        return list(LIVE_REGIMES)
    if regime not in LIVE_REGIMES:
        raise BadInput(f"--regime {regime}: choose one of {', '.join(LIVE_REGIMES)} or both")
    return [regime]


@app.command("live")
def live_command(
    regime: Annotated[
        str, typer.Option("--regime", help="legacy, guarded, or both (the same world twice).")
    ] = "guarded",
    seed: SeedOpt = SEED,
    days: DaysOpt = DAYS,
    employees: EmployeesOpt = EMPLOYEES,
    waybills_per_day: WaybillsOpt = WAYBILLS_PER_DAY,
    scenarios: ScenariosOpt = SCENARIOS,
    start: StartOpt = START,
    batch_seconds: Annotated[
        int, typer.Option("--batch-seconds", help="Simulated seconds decided in one batch.")
    ] = 60,
    guard_config: Annotated[
        Path | None,
        typer.Option(
            "--guard-config",
            help="A guard.toml for the guarded run (e.g. from `guard tune`). 风控配置文件。",
        ),
    ] = None,
    json_mode: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Every reveal of a world through the real door; what insiders still get. 实时仿真。"""
    language = pick_language(lang)

    def action() -> dict[str, object]:
        from parcelguard.simulate.live import run_live_regimes, simulate_for_live
        from parcelguard.simulate.run import scenario_names

        chosen = _regimes(regime)
        if batch_seconds < 1:
            raise BadInput(f"--batch-seconds {batch_seconds}: must be at least 1")
        config = world_config(seed, days, employees, waybills_per_day, start)
        names = scenario_names(scenarios)
        with _progress(json_mode) as bar:
            world = bar.add_task("world / 仿真世界", total=None)
            tables = simulate_for_live(config, names)
            bar.remove_task(world)
            tasks = {
                name: bar.add_task(f"{name} / {_say(language, name)}", total=None)
                for name in chosen
            }

            def tick(name: str, done: int, total: int) -> None:
                bar.update(tasks[name], completed=done, total=total)

            # The slower guarded run here, the legacy one beside it in its own process.
            ordered = sorted(chosen, key=lambda name: name != "guarded")
            runs = run_live_regimes(
                config,
                names,
                ordered,
                batch_seconds=batch_seconds,
                progress=tick,
                tables=tables,
                guard_config=guard_config,
            )
            reports = {name: runs[name].as_dict() for name in chosen}
        if len(reports) == 1:
            return next(iter(reports.values()))
        # Both: the guarded figures on top (what the product claims), the legacy ones beside.
        return {**reports["guarded"], "regime": "both", "legacy": reports["legacy"]}

    def render(result: dict[str, object]) -> Render:
        def show(console: Console) -> None:
            _show_live(console, result, language)

        return show

    finish(json_mode, action, render, language)


def _show_live(console: Console, result: dict[str, object], lang: str) -> None:
    from rich.table import Table

    both = result["regime"] == "both"
    runs: dict[str, dict[str, Any]] = (
        {"legacy": result["legacy"], "guarded": result} if both else {str(result["regime"]): result}  # type: ignore[dict-item]
    )
    head = "both_title" if both else "title"
    console.print(
        "[bold]"
        + _say(
            lang,
            head,
            regime=_say(lang, str(result["regime"])) if not both else "",
            days=result["days"],
            employees=result["employees"],
            waybills=result["waybills"],
        )
        + "[/]"
    )
    table = Table()
    for key in ("employee", "scenario", "role"):
        table.add_column(_say(lang, key))
    if both:  # the legacy run's records beside the guarded run's whole story
        table.add_column(f"{_say(lang, 'records')} ({_say(lang, 'legacy')})", justify="right")
    suffix = f" ({_say(lang, 'guarded')})" if both else ""
    for key in ("requests", "denied", "records", "before", "contained", "minutes"):
        right = key not in ("contained",)
        table.add_column(_say(lang, key) + suffix, justify="right" if right else "left")
    last = list(runs.values())[-1]["insiders"]
    legacy = runs["legacy"]["insiders"] if both else last
    for old, row in zip(legacy, last, strict=True):
        cells = [str(row["employee_id"]), str(row["scenario"]), str(row["role"])]
        if both:
            cells.append(f"{old['records_obtained']:,}")
        cells += [
            f"{row['requests']:,}/{row['planned']:,}",
            f"{row['denied']:,}",
            f"{row['records_obtained']:,}",
            f"{row['records_before_containment']:,}",
            "-" if row["contained_at"] is None else str(row["contained_at"])[5:16],
            "-" if row["minutes_to_containment"] is None else str(row["minutes_to_containment"]),
        ]
        table.add_row(*cells)
    console.print(table)
    for name, run in runs.items():
        console.print(
            _say(
                lang,
                "honest",
                regime=_say(lang, name),
                total=run["legit_reveals"],
                allowed=run["legit_allowed_share"],
                denied=run["legit_denied_share"],
                stepped=run["legit_stepped_up_share"],
                masked=run["legit_masked_share"],
                contained=run["honest_contained"],
                rate=run["honest_contained_per_10k_employee_days"],
                days=run["employee_days"],
            )
        )
    for name, run in runs.items():
        demo = run["vnum_demo"]
        if demo is None:
            console.print(_say(lang, "no_vnum", regime=_say(lang, name)))
            continue
        console.print(
            _say(
                lang,
                "vnum",
                holder=demo["holder"],
                waybill=demo["waybill_no"],
                own_device=demo["from_holder_device"]["device_id"],
                own=demo["from_holder_device"]["reason"],
                other=demo["from_other_device"]["reason"],
            )
        )
    for name, run in runs.items():
        console.print(
            _say(
                lang,
                "speed",
                regime=_say(lang, name),
                decisions=run["decisions"],
                batches=run["batches"],
                rate=run["decisions_per_second"],
                wall=run["wall_seconds"],
                setup=run["setup_seconds"],
            )
        )
