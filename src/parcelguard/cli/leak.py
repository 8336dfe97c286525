"""``parcelguard leak``: leak forensics, from a seized file to a case.

``leak ingest FILE`` reads a leaked file (CSV/TXT/XLSX/XLS, any common encoding), counts its
distinct persons as Art. 11 of 法释〔2017〕10号 counts them, and writes the case: the report
(``case.json``) and the persons table of blind indexes and masked forms (``persons.parquet``)
under ``<PARCELGUARD_HOME>/cases/<name>``. The output is counts, encodings, roles and masked
headers only: nothing from the file is printed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn
from rich.table import Table

from parcelguard.cli.leak_match import register as register_match
from parcelguard.cli.leak_report import report_command
from parcelguard.cli.output import Render, finish
from parcelguard.i18n import pick_language

app = typer.Typer(help="Leak forensics. 泄露溯源。", no_args_is_help=True)
register_match(app)  # leak match, leak canary plant|list
app.command("report")(report_command)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object as the last line.")]
LangOpt = Annotated[str | None, typer.Option("--lang", help="zh or en (default: locale).")]

_TEXT: dict[str, tuple[str, str]] = {
    "reading": ("reading the leaked file", "读取泄露文件"),
    "title": ("Leak case {case}: {file}", "泄露案件 {case}：{file}"),
    "rows_read": ("data rows read (header excluded)", "读取数据行（不含表头）"),
    "rows_rejected": ("rows rejected", "剔除行"),
    "person_records": ("distinct persons (Art. 11)", "去重后的自然人（第十一条）"),
    "virtual_number_records": ("virtual-number records (apart)", "隐私号记录（单独计数）"),
    "duplicates_excluded": ("duplicate rows excluded", "剔除重复记录"),
    "untrue_excluded": ("untrue rows excluded", "剔除不真实记录"),
    "encoding": ("encoding", "编码"),
    "delimiter": ("delimiter", "分隔符"),
    "header": ("header row", "表头"),
    "yes": ("yes", "有"),
    "no": ("no", "无"),
    "columns": ("Columns", "列识别"),
    "index": ("#", "序号"),
    "column_header": ("header", "表头"),
    "role": ("role", "类型"),
    "confidence": ("confidence", "置信度"),
    "sheet": ("sheet", "工作表"),
    "reasons": ("Rejected rows by reason", "剔除原因"),
    "reason": ("reason", "原因"),
    "count": ("rows", "行数"),
    "written": ("case written to {path} in {seconds} s", "案件已写入 {path}，用时 {seconds} 秒"),
}
_REASONS: dict[str, tuple[str, str]] = {
    "line_too_long": ("line too long", "行过长"),
    "undecodable": ("bytes that do not decode", "无法解码"),
    "truncated": ("truncated line", "行被截断"),
    "ragged": ("wrong number of cells, nothing usable", "列数不符且无可用信息"),
    "invalid_phone": ("untrue phone (no such segment)", "手机号不真实（号段不存在）"),
    "invalid_id": ("untrue ID number (check digit)", "身份证号不真实（校验位错误）"),
    "no_phone_or_id": ("no mobile or ID number", "无手机号或身份证号"),
}


def _t(key: str, lang: str, **values: object) -> str:
    english, chinese = _TEXT[key]
    return (chinese if lang == "zh" else english).format(**values)


def _reason(code: str, lang: str) -> str:
    english, chinese = _REASONS.get(code, (code, code))
    return chinese if lang == "zh" else english


@app.command("ingest")
def ingest_command(
    file: Annotated[Path, typer.Argument(help="The leaked file (CSV, TXT, XLSX, XLS). 泄露文件。")],
    case: Annotated[
        str | None,
        typer.Option("--case", help="Case name (default: the file's name). 案件名。"),
    ] = None,
    first_seen: Annotated[
        str | None,
        typer.Option(
            "--first-seen",
            help="When the file first appeared, ISO 8601 with an offset (default: now). "
            "文件首次出现时间。",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=0,
            help="Worker processes for a large text file (default: one per CPU; 0: none). "
            "工作进程数（默认每个 CPU 一个；0 为不用）。",
        ),
    ] = None,
    json_mode: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Ingest a leaked file: distinct persons by blind index, counted as Art. 11 counts. 导入泄露文件。"""
    language = pick_language(lang)

    def action() -> dict[str, object]:
        from parcelguard.admin import open_vault
        from parcelguard.cli.vnum import parse_moment
        from parcelguard.config import Settings
        from parcelguard.forensics.case import CaseDir, case_name_of_file
        from parcelguard.forensics.ingest import ingest_file
        from parcelguard.forensics.recognisers import default_recognisers
        from parcelguard.vnum.config import VnumConfig

        settings = Settings.from_env()
        moment = parse_moment("--first-seen", first_seen) if first_seen is not None else None
        case_dir = CaseDir.under(settings.home, case or case_name_of_file(file))
        recognisers = default_recognisers(
            waybill_pattern=settings.waybill_pattern,
            vnum_prefixes=VnumConfig.from_env().prefixes,
        )
        with open_vault(settings) as vault:
            indexer = vault.blind_indexer
        size = file.stat().st_size if file.is_file() else 0
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            disable=json_mode or not sys.stderr.isatty(),
            console=Console(stderr=True),
        ) as bar:
            task = bar.add_task(_t("reading", language), total=size)
            report = ingest_file(
                file,
                indexer=indexer,
                case=case_dir,
                first_seen=moment,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
                recognisers=recognisers,
                workers=workers,
            )
        return {**report.as_dict(), "case_dir": str(case_dir.root)}

    finish(json_mode, action, lambda result: _render(result, language), language)


def _render(result: dict[str, object], lang: str) -> Render:
    def show(console: Console) -> None:
        source = result["source"]
        assert isinstance(source, dict)
        console.print(
            f"[bold]{_t('title', lang, case=result['case'], file=source['file_name'])}[/]",
            highlight=False,
        )
        encoding = result["encoding"]
        assert isinstance(encoding, dict)
        rejected = result["rows_rejected"]
        assert isinstance(rejected, dict)
        summary = Table(show_header=False)
        for key in (
            "rows_read",
            "person_records",
            "virtual_number_records",
            "duplicates_excluded",
            "untrue_excluded",
        ):
            summary.add_row(_t(key, lang), f"{result[key]:,}")
        summary.add_row(_t("rows_rejected", lang), f"{rejected['total']:,}")
        summary.add_row(
            _t("encoding", lang),
            f"{encoding['name']} ({encoding['decision']}, {encoding['confidence']})",
        )
        if result.get("delimiter") is not None:
            summary.add_row(_t("delimiter", lang), str(result["delimiter"]))
        summary.add_row(_t("header", lang), _t("yes" if result["header"] else "no", lang))
        console.print(summary)
        reasons = Table(_t("reason", lang), _t("count", lang), title=_t("reasons", lang))
        by_reason = rejected["by_reason"]
        assert isinstance(by_reason, dict)
        for code, count in by_reason.items():
            if count:
                reasons.add_row(_reason(code, lang), f"{count:,}")
        if reasons.row_count:
            console.print(reasons)
        columns = Table(
            _t("index", lang),
            _t("sheet", lang),
            _t("column_header", lang),
            _t("role", lang),
            _t("confidence", lang),
            title=_t("columns", lang),
        )
        listed = result["columns"]
        assert isinstance(listed, list)
        for column in listed:
            columns.add_row(
                str(column["index"]),
                escape(column["sheet"] or ""),  # text from the file: never Rich markup
                escape(column["header"] or ""),
                column["role"]
                + (f" ({', '.join(column['merged_roles'])})" if column["merged_roles"] else ""),
                f"{column['confidence']:.2f}",
            )
        console.print(columns)
        console.print(
            _t("written", lang, path=result["case_dir"], seconds=result["seconds"]),
            highlight=False,
        )

    return show
