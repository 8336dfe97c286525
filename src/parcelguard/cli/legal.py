"""``parcelguard legal assess CASE.json``: how serious a case is under 法释〔2017〕10号.

The command reads the case file, hands the decoded object to ``parcelguard.legal`` and
prints the assessment: one JSON object as the last line with ``--json``, otherwise tables
in Chinese or English. The rules themselves live in ``parcelguard.legal`` and do no I/O, so
the leak report and this command give the same answer for the same case.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from parcelguard.cli.output import Render, finish
from parcelguard.core.errors import BadInput
from parcelguard.i18n import pick_language

app = typer.Typer(
    help="Legal assessment under 法释〔2017〕10号. 依据法释〔2017〕10号评估情节。",
    no_args_is_help=True,
)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object as the last line.")]
LangOpt = Annotated[str | None, typer.Option("--lang", help="zh or en (default: locale).")]

MAX_CASE_BYTES = 1 << 20  # a case is a small object of counts and facts, never the leak itself

_TEXT = {
    "en": {
        "title": "Legal assessment",
        "severity": "Severity",
        "sum": "sum of shares",
        "gains": "illegal gains (yuan)",
        "profit": "profit from lawful-business purchase (yuan)",
        "reasons": "Why",
        "none": "none of the clauses with a stated test applies",
        "clauses": "Clauses",
        "notes": "Notes",
        "art6": "Art. 6 (no quantity)",
    },
    "zh": {
        "title": "法律评估",
        "severity": "情节",
        "sum": "比例合计",
        "gains": "违法所得（元）",
        "profit": "合法经营获利（元）",
        "reasons": "理由",
        "none": "有明确标准的条款均不适用",
        "clauses": "适用条款",
        "notes": "说明",
        "art6": "第六条（不按条数）",
    },
}
_HEAD = {
    "en": ("category", "item", "counted", "serious at", "share", "×10 at", "share"),
    "zh": ("信息类别", "条款", "认定条数", "严重标准", "比例", "十倍标准", "比例"),
}
_SEVERITY_EN = {
    "none": "none (below 'serious' on every decidable clause)",
    "serious": "serious (情节严重)",
    "especially_serious": "especially serious (情节特别严重)",
}


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    seen: dict[str, object] = {}
    for key, value in pairs:
        if key in seen:
            raise BadInput(f"key {key} appears twice")
        seen[key] = value
    return seen


def _reject_constant(name: str) -> object:
    raise BadInput(f"{name} is not a number JSON allows")


def read_case(path: Path) -> object:
    """The decoded JSON of a case file; every problem is a BadInput naming the file."""
    if not path.exists():
        raise BadInput(f"{path}: no such file")
    if path.is_dir():
        raise BadInput(f"{path}: is a folder; name a case file such as case.json")
    size = path.stat().st_size
    if size == 0:
        raise BadInput(f"{path}: empty file (write a JSON object with records)")
    if size > MAX_CASE_BYTES:
        raise BadInput(
            f"{path}: {size:,} bytes is too large for a case file (at most {MAX_CASE_BYTES:,}); "
            "give counts and facts, not the leaked records"
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise BadInput(f"{path}: empty file (write a JSON object with records)")
    try:
        return json.loads(
            text,
            parse_float=Decimal,
            parse_constant=_reject_constant,
            object_pairs_hook=_no_duplicate_keys,
        )
    except json.JSONDecodeError as exc:
        raise BadInput(
            f"{path}: not valid JSON at line {exc.lineno} column {exc.colno} ({exc.msg})"
        ) from None
    except BadInput as exc:
        raise BadInput(f"{path}: {exc.message}") from None
    except RecursionError:
        raise BadInput(f"{path}: JSON nested too deeply for a case file") from None
    except ValueError:  # Python refuses integers of more than 4,300 digits
        raise BadInput(f"{path}: a number too long to be a count or an amount") from None


@app.command("assess")
def assess_command(
    case_file: Annotated[
        Path,
        typer.Argument(
            help="JSON object: records (category -> count) and facts. 案件 JSON：各类信息条数与事实。"
        ),
    ],
    json_mode: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Severity under Art. 5, 6 and 11, with the arithmetic shown. 情节评估并列明计算过程。"""
    language = pick_language(lang)

    def action() -> dict[str, object]:
        from parcelguard.legal import LegalCase, assess

        case = LegalCase.from_json_obj(read_case(case_file), where=str(case_file))
        return {"case": str(case_file), **assess(case).as_dict()}

    finish(json_mode, action, lambda result: _render(result, language), language)


def _render(result: dict[str, object], lang: str) -> Render:
    text = _TEXT[lang]

    def show(console: Console) -> None:
        severity = str(result["severity"])
        shown = result["severity_zh"] if lang == "zh" else _SEVERITY_EN[severity]
        colour = {"none": "green", "serious": "yellow"}.get(severity, "bold red")
        console.print(f"[bold]{text['title']}[/] · {result['case']}")
        console.print(f"{text['severity']}: [{colour}]{shown}[/]")
        console.print(_arithmetic_table(result, lang))
        console.print(f"[bold]{text['reasons']}[/]")
        reasons = _rows(result["reasons"])
        if not reasons:
            console.print(f"  - {text['none']}")
        for reason in reasons:
            cites = f" ← {', '.join(map(str, _list(reason['cites'])))}" if reason["cites"] else ""
            console.print(f"  - [bold]{reason['clause']}[/]{cites}: {reason[lang]}")
        clauses = _rows(result["clauses"])
        if clauses:
            console.print(f"[bold]{text['clauses']}[/]")
            for item in clauses:
                console.print(f"  {item['id']} {item['zh']}")
                if lang == "en":
                    console.print(f"  [dim]{item['en']}[/]")
        console.print(f"[bold]{text['notes']}[/]")
        for note in _rows(result["notes"]):
            console.print(f"  - [dim]{note['clause']}[/] {note[lang]}")

    return show


def _arithmetic_table(result: dict[str, object], lang: str) -> Table:
    text = _TEXT[lang]
    sums = result["arithmetic"]
    assert isinstance(sums, dict)
    table = Table(*_HEAD[lang])
    for line in _rows(sums["categories"]):
        name = line["category_zh"] if lang == "zh" else line["category"]
        if line["route"] == "art6":
            table.add_row(str(name), text["art6"], f"{line['counted']:,}", "", "", "", "")
            continue
        table.add_row(
            str(name),
            str(line["item"]),
            f"{line['counted']:,}",
            f"{line['serious_threshold']:,}",
            str(line["serious_share_exact"]),
            f"{line['especially_threshold']:,}",
            str(line["especially_share_exact"]),
        )
    table.add_row(
        text["sum"],
        "",
        "",
        "",
        str(sums["serious_sum_exact"]),
        "",
        str(sums["especially_sum_exact"]),
    )
    if sums["illegal_gains_yuan"] is not None:
        table.add_row(
            text["gains"],
            "art5.1.7",
            _yuan(sums["illegal_gains_yuan"]),
            _yuan(sums["gains_serious_threshold"]),
            "",
            _yuan(sums["gains_especially_threshold"]),
            "",
        )
    if sums["business_profit_yuan"] is not None:
        table.add_row(
            text["profit"],
            "art6.1.1",
            _yuan(sums["business_profit_yuan"]),
            _yuan(sums["profit_threshold"]),
            "",
            "",
            "",
        )
    return table


def _list(value: object) -> list[object]:
    assert isinstance(value, list)
    return value


def _rows(value: object) -> list[dict[str, object]]:
    rows = _list(value)
    return [row for row in rows if isinstance(row, dict)]


def _yuan(value: object) -> str:
    """An amount as the JSON carries it (an exact decimal string), with thousands marked."""
    return f"{Decimal(str(value)):,f}"
