"""``parcelguard audit``: the head of the log, proofs, and a full verification."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from parcelguard.audit.jsonable import hexed
from parcelguard.audit.log import AuditLog
from parcelguard.cli.output import Render, finish, write_text_atomically
from parcelguard.i18n import pick_language

app = typer.Typer(help="The tamper-evident audit log. 防篡改审计日志。", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object as the last line.")]
LangOpt = Annotated[str | None, typer.Option("--lang", help="zh or en (default: locale).")]


def _show(result: dict[str, object]) -> Render:
    def render(console: Console) -> None:
        for key, value in result.items():
            console.print(f"[bold]{key}[/]: {value}")

    return render


def _key_text(option: str, given: str) -> str:
    """A verifier key given inline (``name+hash+base64``) or as a file holding one."""
    from parcelguard.core.errors import BadInput

    candidate = Path(given)
    if "+" in given and not candidate.is_file():
        return given
    try:
        return candidate.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise BadInput(f"{option} {given}: cannot read it ({exc.strerror})") from None


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
        return hexed({"tree_size": head.tree_size, "root_hash": head.root_hash, "checkpoint": note})

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
    finish(json_mode, lambda: hexed(_log().prove(index, size)), _show, pick_language(lang))


@app.command("consistency")
def consistency_command(
    first: Annotated[int, typer.Option("--from")],
    second: Annotated[int, typer.Option("--to")],
    json_mode: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Consistency proof between two tree sizes. 一致性证明。"""
    finish(json_mode, lambda: hexed(_log().consistency(first, second)), _show, pick_language(lang))


@app.command("verify")
def verify_command(json_mode: JsonOpt = False, lang: LangOpt = None) -> None:
    """Recompute everything from the entries; name the first index that does not match. 校验。"""
    outcome: dict[str, object] = {}

    def action() -> dict[str, object]:
        from parcelguard.audit.note import Verifier
        from parcelguard.config import Settings

        public = Settings.from_env().log_key_file.with_suffix(".pub")
        verifier = (
            Verifier.from_key(_key_text("keys/log.pub", str(public))) if public.is_file() else None
        )
        result = _log().verify(verifier)
        outcome.update(
            hexed(
                {
                    "verified": result.ok,
                    "checkpoints_checked": verifier is not None,
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


@app.command("bundle")
def bundle_command(
    entries: Annotated[str, typer.Option("--entries", help="Indices, comma-separated: 3,17,42")],
    out: Annotated[Path, typer.Option("--out", help="File to write the bundle to.")],
    json_mode: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Evidence bundle: entries, inclusion proofs, signed checkpoint. 证据包。"""

    def action() -> dict[str, object]:
        from parcelguard.admin import log_signer
        from parcelguard.config import Settings
        from parcelguard.core.clock import utc_now
        from parcelguard.core.errors import BadInput

        try:
            indices = [int(part) for part in entries.split(",") if part.strip()]
        except ValueError:
            raise BadInput(f"--entries {entries}: give indices like 3,17,42") from None
        settings = Settings.from_env()
        bundle = _log().bundle(indices, log_signer(settings), settings.log_origin, utc_now())
        write_text_atomically(out, json.dumps(bundle, indent=2) + "\n")
        return {"out": str(out), "entries": indices}

    finish(json_mode, action, _show, pick_language(lang))


@app.command("verify-bundle")
def verify_bundle_command(
    file: Annotated[Path, typer.Argument(help="An evidence bundle.")],
    pubkey: Annotated[
        str, typer.Option("--pubkey", help="The log's verifier key, or a file holding it.")
    ],
    witness_key: Annotated[
        list[str] | None,
        typer.Option(
            "--witness-key",
            help="A witness whose cosignature is required (key or file); repeatable.",
        ),
    ] = None,
    json_mode: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Check a bundle offline, with no database. 离线校验证据包。"""

    def action() -> dict[str, object]:
        from parcelguard.audit.evidence import verify_bundle
        from parcelguard.core.errors import BadInput

        key = _key_text("--pubkey", pubkey)
        witnesses = [_key_text("--witness-key", given) for given in witness_key or []]
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInput(f"{file}: cannot read it ({type(exc).__name__})") from None
        evidence = verify_bundle(text, key, witness_keys=witnesses)
        return {
            "verified": True,
            "origin": evidence.origin,
            "tree_size": evidence.tree_size,
            "root_hash": evidence.root_hash.hex(),
            "witnesses": evidence.witnesses,
            "cosigned_by": [
                {"witness_key": wkey, "cosigned_at": stamp} for wkey, stamp in evidence.cosigned_by
            ],
            "entries": [
                {
                    "index": e.sequence,
                    "time": e.time.isoformat(),
                    "actor": e.actor,
                    "action": e.action,
                    "waybill_no": e.waybill_no,
                    "field": e.field,
                    "decision": e.decision,
                    "reason": e.reason,
                }
                for e in evidence.entries
            ],
        }

    finish(json_mode, action, _show, pick_language(lang))


@app.command("witness")
def witness_command(
    once: Annotated[bool, typer.Option("--once", help="One round, then exit.")] = False,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between rounds.")] = 10.0,
    log_key: Annotated[
        str | None,
        typer.Option("--log-key", help="The log's verifier key (default: keys/log.pub)."),
    ] = None,
    json_mode: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Cosign each new checkpoint if it extends the last one; alarm on a fork. 见证。"""
    import time

    from parcelguard.config import Settings

    def round_() -> dict[str, object]:
        import sqlalchemy as sa

        from parcelguard.audit.witness import Witness
        from parcelguard.core.clock import utc_now
        from parcelguard.core.errors import KeyError_
        from parcelguard.storage.schema import audit_checkpoints

        settings = Settings.from_env()
        key = log_key
        if key is None:
            pub = settings.log_key_file.with_suffix(".pub")
            if not pub.exists():
                raise KeyError_(f"{pub}: not found; give --log-key or run `parcelguard init`")
            key = pub.read_text(encoding="ascii").strip()
        home = settings.home / "witness"
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        witness = Witness(home, "parcelguard-witness", key, settings.log_origin)
        log = _log()
        with log.engine.connect() as conn:
            note = conn.execute(
                sa.select(audit_checkpoints.c.note)
                .order_by(audit_checkpoints.c.tree_size.desc())
                .limit(1)
            ).scalar()
        if note is None:
            return {"action": "nothing", "tree_size": 0, "reason": "the log has no checkpoint yet"}
        from parcelguard.audit.checkpoint import open_checkpoint
        from parcelguard.audit.note import Verifier

        newest = open_checkpoint(str(note), Verifier.from_key(key))[0]
        last = witness.last_size()
        proof: list[bytes] | None = None
        if 0 < last < newest.size:
            proof = list(log.consistency(last, newest.size)["proof"])  # type: ignore[call-overload]
        outcome = witness.observe(str(note), proof, int(utc_now().timestamp()))
        if outcome.cosignature is not None:  # hand it back to the log, for evidence bundles
            log.add_cosignature(
                outcome.tree_size, outcome.cosignature, witness.cosigner.verifier_key()
            )
        return {
            "action": outcome.action,
            "tree_size": outcome.tree_size,
            "reason": outcome.reason,
            "cosignature": outcome.cosignature,
            "witness_key": witness.cosigner.verifier_key(),
        }

    language = pick_language(lang)
    while True:
        finish(json_mode, round_, _show, language)
        if once:
            return
        time.sleep(interval)


@app.command("export")
def export_command(
    out: Annotated[
        Path, typer.Option("--out", help="Folder to write accesses.parquet (or .csv) to.")
    ],
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    until: Annotated[
        str | None,
        typer.Option("--until", help="Only entries at or before this time (ISO 8601, offset)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an earlier export in a non-empty --out.")
    ] = False,
    json_mode: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """The log as the exchange format's accesses table, for detection. 导出访问记录。"""

    def action() -> dict[str, object]:
        from parcelguard.audit.export import export_accesses, parse_format, parse_until

        chosen = parse_format(fmt)
        limit = None if until is None else parse_until(until)
        result = export_accesses(_log().engine, out, fmt=chosen, until=limit, force=force)
        return result.as_dict()

    finish(json_mode, action, _show, pick_language(lang))
