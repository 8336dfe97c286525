"""``parcelguard audit``: the head of the log, proofs, and a full verification."""

from __future__ import annotations

import base64
from typing import Annotated

import typer
from rich.console import Console

from parcelguard.audit.log import AuditLog
from parcelguard.cli.output import Render, finish
from parcelguard.i18n import pick_language

app = typer.Typer(help="The tamper-evident audit log. 防篡改审计日志。", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object as the last line.")]
LangOpt = Annotated[str | None, typer.Option("--lang", help="zh or en (default: locale).")]


def _hexed(result: dict[str, object]) -> dict[str, object]:
    """Hashes as hex, entry bytes as base64: the command-line contract of the issue."""
    out: dict[str, object] = {}
    for key, value in result.items():
        if key == "entry" and isinstance(value, bytes):
            out[key] = base64.b64encode(value).decode("ascii")
        elif isinstance(value, bytes):
            out[key] = value.hex()
        elif isinstance(value, list):
            out[key] = [v.hex() if isinstance(v, bytes) else v for v in value]
        else:
            out[key] = value
    return out


def _show(result: dict[str, object]) -> Render:
    def render(console: Console) -> None:
        for key, value in result.items():
            console.print(f"[bold]{key}[/]: {value}")

    return render


def _log() -> AuditLog:
    from parcelguard.admin import open_audit_log
    from parcelguard.config import Settings

    return open_audit_log(Settings.from_env())


@app.command("head")
def head_command(json_mode: JsonOpt = False, lang: LangOpt = None) -> None:
    """Tree size and root hash. 日志头。"""

    def action() -> dict[str, object]:
        from parcelguard.admin import log_signer
        from parcelguard.config import Settings
        from parcelguard.core.clock import utc_now

        settings = Settings.from_env()
        log = _log()
        note = log.checkpoint(log_signer(settings), settings.log_origin, utc_now())
        head = log.head()
        return _hexed(
            {"tree_size": head.tree_size, "root_hash": head.root_hash, "checkpoint": note}
        )

    finish(json_mode, action, _show, pick_language(lang))


@app.command("pubkey")
def pubkey_command(json_mode: JsonOpt = False, lang: LangOpt = None) -> None:
    """The log's verifier key, as Go's note package and witnesses take it. 日志公钥。"""

    def action() -> dict[str, object]:
        from parcelguard.admin import log_signer
        from parcelguard.config import Settings

        return {"verifier_key": log_signer(Settings.from_env()).verifier_key()}

    def render(result: dict[str, object]) -> Render:
        return lambda console: console.print(str(result["verifier_key"]), highlight=False)

    finish(json_mode, action, render, pick_language(lang))


@app.command("prove")
def prove_command(
    index: Annotated[int, typer.Option("--index")],
    size: Annotated[int, typer.Option("--size")],
    json_mode: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Inclusion proof of entry INDEX in the tree of SIZE. 包含性证明。"""
    finish(json_mode, lambda: _hexed(_log().prove(index, size)), _show, pick_language(lang))


@app.command("consistency")
def consistency_command(
    first: Annotated[int, typer.Option("--from")],
    second: Annotated[int, typer.Option("--to")],
    json_mode: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Consistency proof between two tree sizes. 一致性证明。"""
    finish(json_mode, lambda: _hexed(_log().consistency(first, second)), _show, pick_language(lang))


@app.command("verify")
def verify_command(json_mode: JsonOpt = False, lang: LangOpt = None) -> None:
    """Recompute everything from the entries; name the first index that does not match. 校验。"""
    outcome: dict[str, object] = {}

    def action() -> dict[str, object]:
        result = _log().verify()
        outcome.update(
            _hexed(
                {
                    "verified": result.ok,
                    "tree_size": result.tree_size,
                    "root_hash": result.root_hash,
                    "first_bad_index": result.first_bad_index,
                    "reason": result.reason,
                }
            )
        )
        return outcome

    finish(json_mode, action, _show, pick_language(lang))
    if outcome and not outcome["verified"]:
        raise typer.Exit(1)
