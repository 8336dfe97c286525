"""``parcelguard label``: print a privacy label (隐私面单) with an opaque QR token.

The command reads only the masks the vault stored at put time and never touches the KEK,
so a label printer's host needs the store and the label key, not the keys to personal data.
ReportLab, segno and Pillow are imported inside the command: the rest of the CLI starts
without them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from parcelguard.cli.output import Render, finish
from parcelguard.i18n import pick_language

app = typer.Typer(
    help="Privacy labels with opaque QR tokens. 隐私面单（二维码不含个人信息）。",
    no_args_is_help=True,
)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object as the last line.")]
LangOpt = Annotated[str | None, typer.Option("--lang", help="zh or en (default: locale).")]

DEFAULT_VALID_DAYS = 14
MAX_VALID_DAYS = 366
_DONE = {
    "en": "label of {waybill_no} written to {out}; its QR code is valid until {expires_at}",
    "zh": "运单 {waybill_no} 的面单已写入 {out}；二维码有效期至 {expires_at}",
}
_PNG = {"en": "picture of the label: {png}", "zh": "面单图片：{png}"}


@app.callback()
def label_group() -> None:
    """Privacy labels with opaque QR tokens. 隐私面单。"""
    # A callback keeps ``render`` a subcommand: a Typer app with one command and no callback
    # would run that command directly, and ``label render`` would read "render" as WAYBILL.


@app.command("render")
def render_command(
    waybill: Annotated[str, typer.Argument(help="The waybill number (运单号).")],
    out: Annotated[Path, typer.Option("--out", help="The PDF to write (100 × 150 mm).")],
    png: Annotated[
        Path | None, typer.Option("--png", help="Also write a PNG of the same label.")
    ] = None,
    valid_days: Annotated[
        int,
        typer.Option("--valid-days", help="Days until the QR token expires (default 14)."),
    ] = DEFAULT_VALID_DAYS,
    png_font: Annotated[
        Path | None,
        typer.Option("--png-font", help="A font file with Chinese glyphs for the PNG."),
    ] = None,
    json_mode: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Draw the label of WAYBILL: masked recipient, barcode, QR token. 打印隐私面单。"""
    language = pick_language(lang)

    def action() -> dict[str, object]:
        return _render(waybill.strip(), out, png, valid_days, png_font)

    def render(result: dict[str, object]) -> Render:
        def show(console: Console) -> None:
            expires = _carrier_time(str(result["expires_at"]))
            message = _DONE[language].format(**{**result, "expires_at": expires})
            console.print(message, markup=False, highlight=False)
            if result.get("png"):
                console.print(_PNG[language].format(**result), markup=False, highlight=False)

        return show

    finish(json_mode, action, render, language)


def _carrier_time(iso: str) -> str:
    """A time as the label prints it: Beijing time to the minute."""
    from datetime import datetime

    from parcelguard.core.clock import CARRIER_TZ

    return datetime.fromisoformat(iso).astimezone(CARRIER_TZ).strftime("%Y-%m-%d %H:%M (UTC+8)")


def _render(
    waybill_no: str, out: Path, png: Path | None, valid_days: int, png_font: Path | None
) -> dict[str, object]:
    from datetime import timedelta

    from parcelguard.config import Settings
    from parcelguard.core.clock import utc_now
    from parcelguard.core.errors import BadInput
    from parcelguard.labels.content import LabelContent, read_masked
    from parcelguard.labels.keys import label_key
    from parcelguard.labels.render import render_label
    from parcelguard.labels.token import LabelTokens
    from parcelguard.storage import connect_current

    if not 1 <= valid_days <= MAX_VALID_DAYS:
        raise BadInput(f"--valid-days {valid_days}: must be 1 to {MAX_VALID_DAYS}")
    settings = Settings.from_env()
    engine = connect_current(settings.db_url)
    try:
        masked = read_masked(engine, waybill_no)
    finally:
        engine.dispose()
    # `init` creates the key; a missing one is an error, never silently replaced (every
    # label printed under the old key would stop scanning).
    tokens = LabelTokens(label_key(settings, create=False))
    issued = utc_now().replace(microsecond=0)  # the token keeps whole seconds
    expires = issued + timedelta(days=valid_days)
    token = tokens.mint(masked.waybill_no, issued, expires)
    label = LabelContent.of(masked, token, issued, expires)
    layout = render_label(label, out, png, png_font=png_font)
    return {
        "out": str(out),
        "png": None if png is None else str(png),
        "waybill_no": masked.waybill_no,
        "issued_at": issued.isoformat(),
        "expires_at": expires.isoformat(),
        "token_length": len(token),
        "qr_version": layout.qr.version,
        "qr_error": layout.qr.error.upper(),
        "qr_size_mm": round(layout.qr.size_mm, 1),
    }
