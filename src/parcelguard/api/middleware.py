"""Request ids, the access log, the body limit and the last-resort 500, as one ASGI layer.

Why one plain ASGI middleware and not Starlette's ``BaseHTTPMiddleware``: it wraps every
request in extra tasks and queues, which costs a noticeable share of a fast endpoint's
time; this layer only wraps ``send``.

Request ids: a caller's ``X-Request-ID`` is kept when it is a safe id (1 to 64 of
``A-Z a-z 0-9 _ . : -`` and no run of 11 digits, which could be a phone number someone
pasted), otherwise a random one is made. It is answered in the ``X-Request-ID`` header,
carried in problem bodies, written to the access log, and passed to the reveal service so
the audit entry holds it.

The access log (logger ``parcelguard.api.access``, level INFO) has one JSON line per
request: method, route template (``/v1/audit/proof``, never the raw path or query, which a
caller controls), status, duration in ms, request id, employee and device ids when
authenticated, and for routing calls the routing reason and binding id. Never a body, a
header value, a query value or a response value: the policy is to log only what the server
produced or verified.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import secrets
import time
from typing import Any, Final

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parcelguard.api.problems import PROBLEM_JSON, problem_body, problem_bytes

ACCESS_LOGGER: Final = "parcelguard.api.access"
ERROR_LOGGER: Final = "parcelguard.api.error"
MAX_BODY_BYTES: Final = 16 * 1024
"""Far above any request body the API takes (a label token is 100 characters)."""

_SAFE_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")
_LONG_DIGITS = re.compile(r"\d{11}")

access_log = logging.getLogger(ACCESS_LOGGER)
error_log = logging.getLogger(ERROR_LOGGER)


_PROCESS = secrets.token_hex(6)
_SERIAL = itertools.count(1)


def safe_request_id(given: str | None) -> str:
    """The caller's id when it is safe to log and audit, else a fresh one.

    A fresh id is this process's random prefix and a serial number: unique across workers
    and restarts, and cheap. Why not ``secrets.token_hex`` per request: it is a system call,
    and on a busy server every system call on the event loop's thread is a moment the
    reveal threads can take the GIL (measured: 7 % of the event loop's time went there).
    An id is for correlation, not a secret.
    """
    if given is not None and _SAFE_ID.fullmatch(given) and not _LONG_DIGITS.search(given):
        return given
    return f"{_PROCESS}-{next(_SERIAL):x}"


class _TooLarge(HTTPException):
    """Raised from ``receive``: FastAPI passes an HTTPException on to the problem handlers."""

    def __init__(self) -> None:
        super().__init__(413)


class AccessMiddleware:
    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = None
        declared = -1
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                given = value.decode("latin-1")
            elif name == b"content-length":
                declared = int(value) if value.isdigit() else -1
        request_id = safe_request_id(given)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        header = (b"x-request-id", request_id.encode("ascii"))
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _TooLarge
            return message

        try:
            if declared > self.max_body:
                raise _TooLarge
            await self.app(scope, limited_receive, send_with_id)
        except _TooLarge:
            if not response_started:
                await self._problem(scope, send_with_id, 413, "payload-too-large", request_id)
        except Exception as exc:
            # No traceback and no exception text: either may quote values of the request.
            error_log.error(
                "unhandled %s in %s (request %s)", type(exc).__name__, _route(scope), request_id
            )
            if not response_started:
                await self._problem(scope, send_with_id, 500, "internal-error", request_id)
        finally:
            self._log(scope, state, status, started, request_id)

    @staticmethod
    async def _problem(scope: Scope, send: Send, status: int, kind: str, request_id: str) -> None:
        detail = {
            413: f"the body is over {MAX_BODY_BYTES} bytes",
            500: "the server could not answer; the request id names it in the server's log",
        }[status]
        body = problem_bytes(
            problem_body(status, kind, detail, str(scope.get("path", "")), request_id)
        )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _log(
        scope: Scope, state: dict[str, Any], status: int, started: float, request_id: str
    ) -> None:
        if not access_log.isEnabledFor(logging.INFO):
            return
        record: dict[str, object] = {
            "method": scope.get("method", ""),
            "route": _route(scope),
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "request_id": request_id,
            "employee_id": state.get("employee_id"),
            "device_id": state.get("device_id"),
        }
        note = state.get("log_note")
        if isinstance(note, dict):
            record.update(note)
        access_log.info(json.dumps(record, separators=(",", ":")), extra={"access": record})


def _route(scope: Scope) -> str:
    """The matched route's template; an unmatched path is not echoed (a caller wrote it)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if isinstance(path, str) else "-"
