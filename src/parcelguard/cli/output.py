"""How every command ends: a human rendering or one JSON line, and errors as one line.

Errors go to stderr as ``parcelguard: <input>: <problem>`` with exit code 2 for a user's
mistake and 1 for a failure; never a traceback, because a traceback can carry local values
and those may be personal data. ``PARCELGUARD_DEBUG=1`` re-raises for developers.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from parcelguard.core.errors import ParcelGuardError
from parcelguard.i18n import gloss

Render = Callable[[Console], None]

stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)


def _default(value: object) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def write_text_atomically(path: Path, text: str) -> None:
    """Write beside ``path``, flush to disk, rename into place: a crash never leaves half a file.

    For the files a command is asked to write (a guard.toml, an evidence bundle, a summary),
    which a reader may take as complete the moment they exist.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def json_line(data: dict[str, object]) -> str:
    return json.dumps(data, ensure_ascii=False, default=_default, separators=(",", ":"))


def finish(
    json_mode: bool,
    action: Callable[[], dict[str, object]],
    render: Callable[[dict[str, object]], Render],
    lang: str = "en",
) -> None:
    """Run ``action``; print its result as JSON or through ``render``; map errors to exits."""
    try:
        result = action()
    except ParcelGuardError as exc:
        fail(json_mode, exc.message, exc.exit_code, exc.as_dict(), gloss(exc.detail_code, lang))
    except KeyboardInterrupt:
        message = "interrupted; nothing was half-written"
        fail(json_mode, message, 130, {"code": "interrupted"}, gloss("interrupted", lang))
    except Exception as exc:
        if os.environ.get("PARCELGUARD_DEBUG"):
            raise
        fail(
            json_mode,
            f"internal error ({type(exc).__name__}); rerun with PARCELGUARD_DEBUG=1 for details",
            1,
            {"code": "internal_error", "type": type(exc).__name__},
            gloss("internal_error", lang),
        )
    if json_mode:
        print(json_line({"ok": True, **result}))
        return
    try:
        render(result)(stdout)
    except Exception as exc:  # the work is done; only its display failed
        if os.environ.get("PARCELGUARD_DEBUG"):
            raise
        fail(
            json_mode,
            f"done, but the result could not be shown ({type(exc).__name__}); "
            "--json prints it as data",
            1,
            {"code": "internal_error", "type": type(exc).__name__},
            gloss("internal_error", lang),
        )


def fail(
    json_mode: bool,
    message: str,
    code: int,
    error: dict[str, object],
    chinese: str | None = None,
) -> None:
    one_line = " ".join(message.split())
    suffix = f" （{chinese}）" if chinese else ""
    print(f"parcelguard: {one_line}{suffix}", file=sys.stderr)
    if json_mode:
        print(json_line({"ok": False, "error": error}))
    raise typer.Exit(code)
