"""``parcelguard eval``: detection day by day on a simulated world, scored by its ground truth.

The one command that reads ``labels``: the detectors never see it (``detect run`` reads
only the event tables), the evaluation only scores with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pyarrow as pa
import typer
from rich.console import Console
from rich.table import Table

from parcelguard.cli.output import Render, finish
from parcelguard.core.errors import BadInput
from parcelguard.i18n import pick_language, t

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object as the last line.")]
LangOpt = Annotated[str | None, typer.Option("--lang", help="zh or en (default: locale).")]

_HEAD = {
    "en": ("method", "accounts detected", "scenarios", "precision@10", "precision@labelled", "false /10k emp-days"),
    "zh": ("方法", "检出账号", "检出场景", "前10精确率", "前k精确率", "每万员工日误报"),
}  # fmt: skip


def read_truth(path: Path) -> pa.Table:
    """The ground truth file (``labels.parquet`` or ``labels.csv``), checked like any table."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from parcelguard.events._convert import conform
    from parcelguard.events.schema import TABLES

    spec = TABLES["labels"]
    if not path.is_file():
        raise BadInput(f"--truth {path}: no such file", code="no_truth")
    try:
        if path.suffix == ".csv":
            raw = pacsv.read_csv(
                str(path),
                convert_options=pacsv.ConvertOptions(
                    column_types={name: pa.string() for name in spec.names},
                    strings_can_be_null=False,
                ),
            )
        else:
            raw = pq.read_table(str(path))
    except (pa.ArrowException, OSError):
        raise BadInput(
            f"--truth {path}: not a readable Parquet or UTF-8 CSV file", code="bad_truth"
        ) from None
    table, problems = conform(raw, spec, path.name)
    if problems or table is None:
        raise BadInput(f"--truth {problems[0]}", code=problems[0].code)
    if table.num_rows == 0:
        raise BadInput(
            f"--truth {path}: no labelled accounts; nothing to score", code="empty_table"
        )
    return table


def eval_command(
    events: Annotated[Path, typer.Option("--events", help="Folder of event tables. 事件文件夹。")],
    truth: Annotated[Path, typer.Option("--truth", help="labels.parquet (or .csv). 真值标签。")],
    engine: Annotated[str, typer.Option("--engine", help="duckdb (default) or spark.")] = "duckdb",
    json_mode: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Detection at the end of each day, scored against the truth, with baselines. 检测评估。"""
    language = pick_language(lang)

    def action() -> dict[str, object]:
        from parcelguard.detect.engine import ENGINES, read_events
        from parcelguard.detect.evaluate import evaluate

        if engine not in ENGINES:
            raise BadInput(f"--engine {engine}: use one of {', '.join(ENGINES)}")
        labels = read_truth(truth)
        tables = read_events(events)
        return {"events": str(events), "truth": str(truth), **evaluate(tables, labels, engine)}

    def render(result: dict[str, object]) -> Render:
        def show(console: Console) -> None:
            table = Table(*_HEAD[language])
            rows: list[tuple[str, object]] = [("detectors", result["detectors"])]
            rows.append(("detectors + feedback", result["detectors_with_feedback"]))
            baselines = result["baselines"]
            assert isinstance(baselines, dict)
            rows += list(baselines.items())
            for name, figures in rows:
                assert isinstance(figures, dict)
                table.add_row(
                    name,
                    f"{figures['accounts_detected']}/{result['labelled_accounts']}",
                    f"{figures['scenarios_detected']}/{figures['scenarios']}",
                    str(figures["precision_at_10"]),
                    str(figures["precision_at_labelled"]),
                    str(figures["false_per_10k_employee_days"]),
                )
            console.print(table)
            ours = result["detectors"]
            assert isinstance(ours, dict)
            console.print(
                t(
                    "eval.done",
                    language,
                    scenarios_detected=ours["accounts_detected"],
                    scenarios=result["labelled_accounts"],
                    k=10,
                    precision_at_k=ours["precision_at_10"],
                    false_per_10k=ours["false_per_10k_employee_days"],
                )
            )

        return show

    finish(json_mode, action, render, language)
