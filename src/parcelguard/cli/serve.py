"""``parcelguard serve`` (the HTTP API on uvicorn) and ``parcelguard api token`` (mint a token).

``serve`` checks the store and the API key before it starts uvicorn, so a wrong
``PARCELGUARD_DB`` is one clear line and exit code 1, not a traceback from inside a worker.
Each worker process builds its own application with ``parcelguard.api.app:app_from_env``.

Logging, and why it is set here: uvicorn's own access log writes the request line, query
string included, and a query string is something a caller wrote; it is switched off. The
API's access log (``parcelguard.api.access``, one JSON object per line on stdout) carries
only what the server produced or verified; see :mod:`parcelguard.api.middleware`.

FastAPI and uvicorn are imported inside the commands, so every other command of the CLI
starts without loading them.
"""

from __future__ import annotations

import contextlib
import re
from datetime import timedelta
from typing import Annotated, Any

import typer
from rich.console import Console

from parcelguard.cli.output import Render, fail, finish
from parcelguard.core.errors import BadInput, ParcelGuardError
from parcelguard.i18n import gloss, pick_language

api_app = typer.Typer(
    help="Tokens for the HTTP API. HTTP 接口令牌。", no_args_is_help=True, add_completion=False
)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object as the last line.")]
LangOpt = Annotated[str | None, typer.Option("--lang", help="zh or en (default: locale).")]

_TTL = re.compile(r"(\d{1,7})([smhd]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_ttl(text: str) -> timedelta:
    """``90s``, ``30m``, ``8h``, ``7d`` or plain seconds."""
    match = _TTL.fullmatch(text.strip())
    if match is None:
        raise BadInput(f"--ttl {text}: write a duration like 30m, 8h or 7d")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def log_config(level: str, access_log: bool) -> dict[str, Any]:
    """``logging.config.dictConfig`` for the server: access lines to stdout, the rest stderr."""
    upper = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "line": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
            "access": {"format": "%(message)s"},
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "line",
                "stream": "ext://sys.stderr",
            },
            "access": {
                "class": "logging.StreamHandler",
                "formatter": "access",
                "stream": "ext://sys.stdout",
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": upper, "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
            "parcelguard.api": {"handlers": ["stderr"], "level": upper, "propagate": False},
            "parcelguard.api.access": {
                "handlers": ["access"],
                "level": "INFO" if access_log else "WARNING",
                "propagate": False,
            },
        },
    }


def serve_command(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8080,
    workers: Annotated[
        int, typer.Option("--workers", help="Worker processes (each with its own pools).")
    ] = 1,
    decisions: Annotated[
        str,
        typer.Option(
            "--decisions",
            help="Where reveals are decided: process (a child process per worker) or thread.",
        ),
    ] = "process",
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="One JSON line per request.")
    ] = True,
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning.")] = "info",
    lang: LangOpt = None,
) -> None:
    """Serve the HTTP API (FastAPI on uvicorn) until interrupted. 提供 HTTP 接口服务。"""
    import os

    language = pick_language(lang)
    try:
        _preflight(port, workers, log_level, decisions)
        _check_host(host, port)
    except ParcelGuardError as exc:
        fail(False, exc.message, exc.exit_code, exc.as_dict(), gloss(exc.detail_code, language))

    import uvicorn

    os.environ["PARCELGUARD_API_DECISIONS"] = decisions
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a foreground server stops
        uvicorn.run(
            "parcelguard.api.app:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=False,
            log_config=log_config(log_level, access_log),
            log_level=log_level.lower(),
            server_header=False,
        )


def _check_host(host: str, port: int) -> None:
    """A host that does not resolve is named here, not in a uvicorn log line after start-up."""
    import socket

    from parcelguard.core.errors import BadInput

    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise BadInput(f"--host {host}: cannot resolve it ({exc.args[-1]})") from None


def _preflight(port: int, workers: int, log_level: str, decisions: str) -> None:
    """The store answers at the current schema and the API key exists, before uvicorn.

    Several workers on PostgreSQL are refused: the audit log's append reads the log's size
    and inserts after it, which is serialised on SQLite (``BEGIN IMMEDIATE``) but not on
    PostgreSQL, where two processes appending at once collide on the same index (measured:
    an IntegrityError, so the reveal fails closed with a 500). One worker per store until
    the log serialises its appends there.
    """
    from parcelguard.api.auth import api_key
    from parcelguard.config import Settings
    from parcelguard.storage import backend_name, connect_current

    if not 0 <= port <= 65535:
        raise BadInput(f"--port {port}: give 0 to 65535")
    if workers < 1:
        raise BadInput(f"--workers {workers}: give 1 or more")
    if log_level.lower() not in ("critical", "error", "warning", "info", "debug"):
        raise BadInput(f"--log-level {log_level}: give debug, info, warning or error")
    if decisions not in ("process", "thread"):
        raise BadInput(f"--decisions {decisions}: give process or thread")
    settings = Settings.from_env()
    engine = connect_current(settings.db_url)
    backend = backend_name(engine)
    engine.dispose()
    if workers > 1 and backend == "postgresql":
        raise BadInput(
            f"--workers {workers}: on PostgreSQL the audit log takes appends from one "
            "process at a time; run one worker"
        )
    api_key(settings, create=True)


@api_app.command("token")
def token_command(
    employee: Annotated[str, typer.Option("--employee", help="The employee id.")],
    device: Annotated[str, typer.Option("--device", help="A device registered to them.")],
    ttl: Annotated[str, typer.Option("--ttl", help="Lifetime: 30m, 8h, 7d (at most 31d).")] = "8h",
    json_mode: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Mint an API token for an employee on a registered device. 签发接口令牌。

    The token goes to stdout alone (for ``TOKEN=$(parcelguard api token ...)``); treat it
    like a password. Revoking the device or recording the employee's departure cuts it off
    within 30 seconds.
    """

    def action() -> dict[str, object]:
        from parcelguard.api.auth import ApiTokens, api_key, check_pair
        from parcelguard.config import Settings
        from parcelguard.core.clock import utc_now
        from parcelguard.storage import connect_current

        lifetime = parse_ttl(ttl)
        settings = Settings.from_env()
        now = utc_now()
        engine = connect_current(settings.db_url)
        try:
            role = check_pair(engine, employee, device, now)
        finally:
            engine.dispose()
        token = ApiTokens(api_key(settings, create=True)).mint(employee, device, now, lifetime)
        return {
            "token": token,
            "employee_id": employee,
            "device_id": device,
            "role": role,
            "expires_at": (now.replace(microsecond=0) + lifetime).isoformat(),
        }

    def render(result: dict[str, object]) -> Render:
        def show(console: Console) -> None:
            print(result["token"])

        return show

    finish(json_mode, action, render, pick_language(lang))


cli = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False)
"""The two commands on their own, for ``python -m parcelguard.cli.serve``."""
cli.command("serve")(serve_command)
cli.add_typer(api_app, name="api")

if __name__ == "__main__":
    cli()
