"""``parcelguard leak match`` and ``parcelguard leak canary``: match a case, plant bait.

``match CASE`` matches the case's persons to our waybills by blind index, attributes them
to the accounts that revealed them, writes ``match.json`` in the case and prints the
figures (``--json``: one object as the last line; the full evidence lists stay in
``match.json``, the line carries their lengths). ``canary plant`` and ``canary list`` manage
canary records (``parcelguard.forensics.canary``). Nothing here prints a recipient's data:
figures, waybill numbers, account ids and masked canary phones only.

:func:`register` adds the commands to the ``leak`` sub-app.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from parcelguard.cli.output import Render, finish
from parcelguard.i18n import pick_language

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object as the last line.")]
LangOpt = Annotated[str | None, typer.Option("--lang", help="zh or en (default: locale).")]

_TEXT: dict[str, tuple[str, str]] = {
    "title": (
        "Leak case {case}: matched without decrypting",
        "泄露案件 {case}：盲索引匹配（未解密）",
    ),
    "persons": ("persons in the file", "文件中的自然人"),
    "ours": ("our recipients", "本公司收件人"),
    "waybills": ("matched waybills", "匹配的运单"),
    "fresh": ("age when leaked, days (median / p90 / max)", "泄露时记录天数（中位 / 90% / 最大）"),
    "unexplained": ("records no account explains", "无账号可解释的记录"),
    "canaries": ("canary records hit (never counted)", "命中的诱饵记录（不计入）"),
    "accounts": ("Accounts ranked by the records they alone explain", "按单独解释记录数排名的账号"),
    "account": ("account", "账号"),
    "role": ("role", "岗位"),
    "site": ("site", "站点"),
    "revealed": ("revealed", "调阅"),
    "alone": ("alone (share, 95%)", "单独解释（份额，95%）"),
    "source": ("source", "来源"),
    "written": ("written", "已写入"),
    "planted": ("Planted {n} canaries in {kind} {value}", "已在{kind} {value} 布放 {n} 条诱饵记录"),
    "list": ("Canary records", "诱饵记录"),
    "none": ("no canary planted yet", "尚未布放诱饵记录"),
    "yes": ("yes", "是"),
}


def _t(key: str, lang: str, **values: object) -> str:
    english, chinese = _TEXT[key]
    return (chinese if lang == "zh" else english).format(**values)


def register(leak: typer.Typer) -> None:
    """Add ``match`` and the ``canary`` group to the ``leak`` sub-app."""
    leak.command("match")(match_command)
    leak.add_typer(canary_app, name="canary")


canary_app = typer.Typer(
    help="Canary records (honeytokens) that narrow a leak's source. 诱饵记录：缩小泄露来源。",
    no_args_is_help=True,
)


def match_command(
    case: Annotated[str, typer.Argument(help="The case's name (from leak ingest). 案件名称。")],
    json_mode: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Match a case to our waybills and attribute it to accounts. 匹配运单并溯源账号。"""
    language = pick_language(lang)

    def action() -> dict[str, object]:
        from parcelguard.config import Settings
        from parcelguard.forensics.attribute import match_case
        from parcelguard.forensics.case import CaseDir

        settings = Settings.from_env()
        folder = CaseDir.under(settings.home, case)
        found = match_case(settings, folder).as_dict()
        return {**_light(found), "match_file": str(folder.match_file)}

    finish(json_mode, action, lambda result: _render_match(result, language), language)


def _light(found: dict[str, Any]) -> dict[str, Any]:
    """The findings with every evidence list replaced by its length (match.json has them)."""
    attribution = dict(found["attribution"])
    attribution["accounts"] = [
        {
            **{k: v for k, v in a.items() if k not in ("evidence_sequences", "vnum_bindings")},
            "evidence_entries": len(a["evidence_sequences"]),
            "vnum_bindings": len(a["vnum_bindings"]),
        }
        for a in attribution["accounts"]
    ]
    attribution["canaries"] = [
        {**{k: v for k, v in c.items() if k != "evidence_sequences"},
         "evidence_entries": len(c["evidence_sequences"])}
        for c in attribution["canaries"]
    ]  # fmt: skip
    return {**found, "attribution": attribution}


def _render_match(result: dict[str, Any], lang: str) -> Render:
    match, attribution = result["match"], result["attribution"]

    def show(console: Console) -> None:
        figures = Table(title=_t("title", lang, case=result["case"]), show_header=False)
        fresh = match["freshness_days"]
        rows = [
            ("persons", match["persons"]),
            ("ours", match["matched_persons"]),
            ("waybills", match["matched_waybills"]),
            ("fresh", f"{fresh['median']} / {fresh['p90']} / {fresh['max']}"),
            ("unexplained", attribution["unexplained"]),
            ("canaries", match["canary_persons"]),
        ]
        for key, value in rows:
            figures.add_row(_t(key, lang), str(value))
        console.print(figures)
        accounts = Table(title=_t("accounts", lang))
        for key in ("account", "role", "site", "revealed", "alone", "source"):
            accounts.add_column(_t(key, lang))
        for a in attribution["accounts"][:10]:
            accounts.add_row(
                a["employee_id"],
                str(a["role"]),
                str(a["site_id"]),
                str(a["revealed"]),
                f"{a['alone']} ({a['alone_share']:.1%}, "
                f"{a['alone_share_low']:.1%}-{a['alone_share_high']:.1%})",
                _t("yes", lang) if a["source"] else "",
            )
        console.print(accounts)
        for c in attribution["canaries"]:
            console.print(
                f"canary {c['waybill_no']}: {c['slice_kind']} {c['slice_value']} "
                f"({len(c['slice_accounts'])} accounts; revealed by {', '.join(c['revealed_by']) or '-'})"
            )
        console.print(f"{_t('written', lang)}: {result['match_file']}")

    return show


@canary_app.command("plant")
def plant_command(
    count: Annotated[int, typer.Option("--count", help="How many canaries. 数量。")],
    station: Annotated[
        str | None, typer.Option("--station", help="A delivery station's site id. 网点。")
    ] = None,
    sender: Annotated[str | None, typer.Option("--sender", help="A sender's id. 寄件人。")] = None,
    json_mode: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Plant canary records reachable only through one slice. 布放诱饵记录。"""
    language = pick_language(lang)

    def action() -> dict[str, object]:
        from parcelguard.admin import open_vault
        from parcelguard.config import Settings
        from parcelguard.core.clock import utc_now
        from parcelguard.core.errors import BadInput
        from parcelguard.forensics.canary import CanaryConfig, plant

        if (station is None) == (sender is None):
            raise BadInput("canary plant: give exactly one of --station or --sender")
        kind, value = ("station", station) if station is not None else ("sender", sender)
        assert value is not None
        settings = Settings.from_env()
        config = CanaryConfig.from_env()
        with open_vault(settings) as vault:
            result = plant(
                vault,
                kind,
                value,
                count,
                now=utc_now(),
                waybill_pattern=settings.waybill_pattern,
                config=config,
            )
        return {"slice_kind": kind, "slice_value": value, **result.as_dict()}

    def render(result: dict[str, Any]) -> Render:
        def show(console: Console) -> None:
            console.print(
                _t(
                    "planted",
                    language,
                    n=result["planted"],
                    kind=result["slice_kind"],
                    value=result["slice_value"],
                )
            )
            for c in result["canaries"]:
                console.print(f"  {c['waybill_no']}  {c['phone_masked']}")

        return show

    finish(json_mode, action, render, language)


@canary_app.command("list")
def list_command(json_mode: JsonOpt = False, lang: LangOpt = None) -> None:
    """List the canary records and whether each is live. 列出诱饵记录。"""
    language = pick_language(lang)

    def action() -> dict[str, object]:
        from parcelguard.config import Settings
        from parcelguard.forensics.canary import list_canaries
        from parcelguard.storage import connect_current

        engine = connect_current(Settings.from_env().db_url)
        try:
            found = [c.as_dict() for c in list_canaries(engine)]
        finally:
            engine.dispose()
        return {"canaries": found, "count": len(found)}

    def render(result: dict[str, Any]) -> Render:
        def show(console: Console) -> None:
            if not result["canaries"]:
                console.print(_t("none", language))
                return
            table = Table(title=_t("list", language))
            for column in ("waybill_no", "slice_kind", "slice_value", "planted_at", "status"):
                table.add_column(column)
            for c in result["canaries"]:
                table.add_row(
                    c["waybill_no"], c["slice_kind"], c["slice_value"], c["planted_at"], c["status"]
                )
            console.print(table)

        return show

    finish(json_mode, action, render, language)
