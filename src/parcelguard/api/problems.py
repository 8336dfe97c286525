"""Errors as RFC 9457 problem details (``application/problem+json``), and nothing else.

Every error the API answers has the same shape, so a handheld app or a script can show
``title``/``detail`` and branch on ``type`` without parsing prose::

    {"type": "tag:parcelguard.local,2026:problems/unauthenticated", "title": "...",
     "status": 401, "detail": "...", "instance": "/v1/reveal", "request_id": "...",
     "code": "token_expired"}

Why a ``tag:`` URI for ``type``: RFC 9457 lets a type URI be non-resolvable and suggests the
tag scheme for that; these problem types are documented in ``docs/api.md``, not served,
because no endpoint but health answers an unauthenticated caller. ``instance`` is the
request's path (never its query, which may hold values); ``request_id`` ties the answer to
the access log and, for reveals, to the audit entry.

What an error never carries: a traceback, an exception's text from outside ParcelGuard (a
driver's message may quote a statement's values), or the request's values. Validation
errors name the location and the rule broken, not the input; ParcelGuard's own errors carry
their message, which by contract (:mod:`parcelguard.core.errors`) names inputs and problems
but never a personal value.

Status codes: 400 for a body that is not JSON and for ParcelGuard's :class:`BadInput`; 422
(FastAPI's usual code, kept so that generated clients and schemathesis agree with the
OpenAPI document) for JSON that does not match the endpoint's schema, unknown members
included; 401 with ``WWW-Authenticate: Bearer`` for a missing, malformed, forged or expired
token or one whose device or employee no longer qualifies; 403 for an authenticated caller
whose role may not use the endpoint; 404/405 for routes; 413 for a body over the limit; 503
for :class:`StoreUnavailable` and for a reveal that could not be audited (fail closed); 500
for anything else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from parcelguard.api.auth import Unauthenticated
from parcelguard.core.errors import BadInput, ParcelGuardError, StoreUnavailable

PROBLEM_JSON: Final = "application/problem+json"
TYPE_PREFIX: Final = "tag:parcelguard.local,2026:problems/"
REALM: Final = "parcelguard"
_LOC_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,40}")

TITLES: Final[Mapping[str, str]] = {
    "malformed-json": "The body is not JSON",
    "invalid-request": "The request does not match the endpoint's schema",
    "bad-input": "The request cannot be accepted",
    "unauthenticated": "Authentication required",
    "forbidden": "Not allowed for this role",
    "not-found": "No such resource",
    "method-not-allowed": "Method not allowed",
    "payload-too-large": "The body is too large",
    "unsupported-media-type": "The body must be application/json",
    "store-unavailable": "The store is unavailable",
    "audit-unavailable": "The audit log could not record the decision",
    "internal-error": "Internal error",
}
"""Every problem type the API answers with, by the last segment of its ``type``."""


class ProblemModel(BaseModel):
    """The problem+json body, for the OpenAPI document."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=[TYPE_PREFIX + "unauthenticated"])
    title: str
    status: int
    detail: str
    instance: str
    request_id: str
    code: str | None = Field(
        default=None, description="A machine reason, e.g. token_expired or audit_unavailable."
    )


class ApiProblem(Exception):
    """Raised by endpoints and dependencies; rendered by :func:`problem_response`."""

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        *,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(detail)
        if kind not in TITLES:
            raise ValueError(f"unknown problem type {kind!r}")
        self.status = status
        self.kind = kind
        self.detail = detail
        self.code = code
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def problem_body(
    status: int,
    kind: str,
    detail: str,
    instance: str,
    request_id: str,
    code: str | None = None,
    extra: Mapping[str, object] | None = None,
) -> dict[str, object]:
    body: dict[str, object] = {
        "type": TYPE_PREFIX + kind,
        "title": TITLES[kind],
        "status": status,
        "detail": detail,
        "instance": instance,
        "request_id": request_id,
    }
    if code is not None:
        body["code"] = code
    body.update(extra or {})
    return body


def problem_bytes(body: Mapping[str, object]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def problem_response(request: Request, problem: ApiProblem) -> Response:
    body = problem_body(
        problem.status,
        problem.kind,
        problem.detail,
        request.url.path,
        request_id_of(request),
        problem.code,
        problem.extra,
    )
    return Response(
        problem_bytes(body),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )


def request_id_of(request: Request) -> str:
    return str(getattr(request.state, "request_id", ""))


def unauthenticated(reason: str, detail: str) -> ApiProblem:
    """401 with the RFC 6750 challenge; ``invalid_token`` when a token was given."""
    challenge = f'Bearer realm="{REALM}"'
    if reason != "token_missing":
        challenge += ', error="invalid_token"'
    return ApiProblem(
        401, "unauthenticated", detail, code=reason, headers={"WWW-Authenticate": challenge}
    )


def _safe_loc(loc: Sequence[Any]) -> list[str | int]:
    """A validation error's location without user text: a key typed as a phone stays out."""
    return [
        part if isinstance(part, int) or _LOC_PART.fullmatch(str(part)) else "?" for part in loc
    ]


async def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        problem = ApiProblem(400, "malformed-json", "the body is not valid JSON")
        return problem_response(request, problem)
    # pydantic's messages state the rule ("Field required", "String should have at most 64
    # characters"); the offending input is in other keys ("input", "ctx"), which are dropped.
    listed: list[dict[str, object]] = []
    summary = "invalid request"
    for error in errors:
        loc = _safe_loc(error.get("loc", ()))
        msg = str(error.get("msg", ""))
        listed.append({"loc": loc, "type": str(error.get("type", "")), "msg": msg})
        if len(listed) == 1:
            summary = f"{'.'.join(str(part) for part in loc)}: {msg}"
    problem = ApiProblem(422, "invalid-request", summary, extra={"errors": listed})
    return problem_response(request, problem)


async def _api_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiProblem)
    return problem_response(request, exc)


async def _unauthenticated(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Unauthenticated)
    return problem_response(request, unauthenticated(exc.reason, exc.message))


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    kinds = {
        400: ("bad-input", "the request cannot be read"),
        404: ("not-found", "no such resource"),
        405: ("method-not-allowed", "this resource does not accept that method"),
        413: ("payload-too-large", "the body is over the limit"),
        415: ("unsupported-media-type", "send the body as application/json"),
    }
    kind, detail = kinds.get(exc.status_code, ("internal-error", "the request failed"))
    status = exc.status_code if exc.status_code in kinds else 500
    headers = dict(exc.headers or {})
    return problem_response(request, ApiProblem(status, kind, detail, headers=headers))


async def _bad_input(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BadInput)
    return problem_response(request, ApiProblem(400, "bad-input", exc.message, code=exc.code))


async def _store(request: Request, exc: Exception) -> Response:
    """:class:`StoreUnavailable`, or the driver's lost connection (its text is not shown)."""
    assert isinstance(exc, StoreUnavailable | sa.exc.OperationalError)
    problem = ApiProblem(
        503,
        "store-unavailable",
        "the store cannot be reached; try again shortly",
        code="store_unavailable",
        headers={"Retry-After": "5"},
    )
    return problem_response(request, problem)


async def _other_parcelguard(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ParcelGuardError)
    # A key or integrity problem is the operator's to see in the server's own logs; the
    # caller learns only its code.
    problem = ApiProblem(500, "internal-error", "the server cannot answer", code=exc.code)
    return problem_response(request, problem)


_HANDLERS: Final[Mapping[type[Exception], Callable[[Request, Exception], Awaitable[Response]]]] = {
    RequestValidationError: _validation,
    ApiProblem: _api_problem,
    Unauthenticated: _unauthenticated,
    StarletteHTTPException: _http,
    BadInput: _bad_input,
    StoreUnavailable: _store,
    sa.exc.OperationalError: _store,
    ParcelGuardError: _other_parcelguard,
}


def install(app: FastAPI) -> None:
    """Register the handlers; anything not handled here is a 500 from the access middleware."""
    for kind, handler in _HANDLERS.items():
        app.add_exception_handler(kind, handler)


def handler_for(
    exc: Exception,
) -> Callable[[Request, Exception], Awaitable[Response]] | None:
    """The handler :func:`install` registers for ``exc``'s class, nearest in its MRO first.

    For a layer in front of the framework (:mod:`parcelguard.api.fast_reveal`) that must
    answer an error exactly as the framework would.
    """
    for kind in type(exc).__mro__:
        handler = _HANDLERS.get(kind)
        if handler is not None:
            return handler
    return None


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these error statuses, all problem+json."""
    described = {
        400: "The body is not JSON, or ParcelGuard cannot accept a value",
        401: "Missing, malformed, forged or expired token; or its device or employee no "
        "longer qualifies",
        403: "The caller's role may not use this endpoint",
        422: "The JSON does not match the schema (unknown members included)",
        503: "The store or the audit log is unavailable",
    }
    return {
        status: {
            "description": described[status],
            "model": ProblemModel,
            "content": {PROBLEM_JSON: {}},
        }
        for status in statuses
    }
