"""``POST /v1/reveal`` in its common case, answered in front of the framework's machinery.

Why: a reveal is the one request a carrier makes a thousand times a second, and the
framework's per-request work (routing through the routers, solving the bearer dependency,
reading and validating the body through its generic path, the exception and exit-stack
layers) cost the event loop more CPU than everything else the request does: measured
0.87 ms of the HTTP process's CPU per reveal against 0.38 ms for the health check, on a
two-core host where that process and the decision process share the cores.

What this layer does and does not decide: nothing of its own. It takes a request only when
every check the framework's endpoint would make passes here with the very same code (the
body validated by the same :class:`RevealBody` model, the token opened by the same
:class:`Authenticator`, its standing taken from the same cache) and then makes the same
call to the same batcher and answers with the same response. Anything else (no token, a
token to look up in the store, a body that does not validate, another content type) is
handed to the framework untouched, with the body it has read replayed, so every error is
the framework's own answer. It sits inside :class:`AccessMiddleware`, so request ids, the
body limit and the access log are those of every other request.

Once a reveal has been handed to the batcher there is no handing back (the decision is
made and audited): its errors are answered here with the handlers the framework would use
(:func:`parcelguard.api.problems.handler_for`).
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parcelguard.api.auth import Authenticator, Principal, Unauthenticated
from parcelguard.api.batching import LoopBatcher, RevealBatcher
from parcelguard.api.models import RevealBody
from parcelguard.api.problems import ApiProblem, handler_for
from parcelguard.reveal.facts import RevealRequest
from parcelguard.reveal.service import RevealDecision

REVEAL_PATH: Final = "/v1/reveal"
NO_STORE: Final = {"Cache-Control": "no-store"}


def audit_unavailable() -> ApiProblem:
    """The answer to a decision the audit log could not record: nothing was revealed."""
    return ApiProblem(
        503,
        "audit-unavailable",
        "the decision could not be written to the audit log, so nothing was revealed",
        code="audit_unavailable",
        headers={"Retry-After": "5"},
    )


def decision_response(decision: RevealDecision) -> JSONResponse:
    """A decided request's answer, allow or deny; raises for one that was not audited."""
    if decision.reason == "audit_unavailable":
        raise audit_unavailable()
    return JSONResponse(decision.as_dict(), headers=NO_STORE)


def client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""


def reveal_request(
    body: RevealBody, caller: Principal, scope: Scope, request_id: str
) -> RevealRequest:
    """The service's request for a reveal body: actor, device and channel from the token.

    One place for the endpoint and this layer, so the two cannot drift apart.
    """
    return RevealRequest(
        actor=caller.employee_id,
        waybill_no=body.waybill_no,
        field=body.field,
        purpose=body.purpose,
        device_id=caller.device_id,
        channel=caller.channel,
        ip=client_ip(scope),
        request_id=request_id,
        case_id=body.case_id or "",
    )


def _bearer_and_json(scope: Scope) -> tuple[str | None, bool]:
    """The bearer token if the header is plainly one, and whether the body is declared JSON.

    Of a repeated header the first counts, as for the framework (``Headers.get``).
    """
    authorization: bytes | None = None
    content_type: bytes | None = None
    for name, value in scope["headers"]:
        if name == b"authorization" and authorization is None:
            authorization = value
        elif name == b"content-type" and content_type is None:
            content_type = value
    token = None
    if authorization is not None:
        scheme, _, credentials = authorization.decode("latin-1").partition(" ")
        if scheme.lower() == "bearer" and credentials and credentials == credentials.strip():
            token = credentials
    is_json = (
        content_type is not None
        and content_type.split(b";", 1)[0].strip().lower() == b"application/json"
    )
    return token, is_json


class RevealFastPath:
    """An ASGI layer: common reveals answered here, everything else passed to ``app``.

    ``route`` is the framework's route object for ``/v1/reveal``; it is put in the scope so
    the access log names the route as it does for the framework's own requests.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        route: Any,
        authenticator: Authenticator,
        batcher: RevealBatcher | LoopBatcher,
    ) -> None:
        self.app = app
        self.route = route
        self.authenticator = authenticator
        self.batcher = batcher
        self.answered = 0
        """Reveals answered here (the rest went to the framework): for tests and operators."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != REVEAL_PATH
            or scope["method"] != "POST"
            or scope.get("root_path")
        ):
            await self.app(scope, receive, send)
            return
        token, is_json = _bearer_and_json(scope)
        if token is None or not is_json:
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route  # the access log names it, even for a 413 while reading
        try:
            body, last = await _read_body(receive)
        except Exception as exc:  # over the body limit: the framework's own answer to it
            await self._answer_error(scope, receive, send, exc)
            return
        replay = _replaying(body, last, receive)
        if last is not None:  # the client went away before the body ended
            await self.app(scope, replay, send)
            return
        try:
            parsed = RevealBody.model_validate_json(body)
            principal = self.authenticator.cached(self.authenticator.claims(token))
        except (ValidationError, Unauthenticated):
            principal = None
        if principal is None:
            await self.app(scope, replay, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        state["employee_id"] = principal.employee_id
        state["device_id"] = principal.device_id
        request = reveal_request(parsed, principal, scope, str(state.get("request_id", "")))
        self.answered += 1
        try:
            response = decision_response(await self.batcher.reveal(request))
        except Exception as exc:
            await self._answer_error(scope, replay, send, exc)
            return
        await response(scope, replay, send)

    @staticmethod
    async def _answer_error(scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
        handler = handler_for(exc)
        if handler is None:
            raise exc  # the access middleware's 500, as for the framework's endpoint
        answer = await handler(Request(scope), exc)
        await answer(scope, receive, send)


async def _read_body(receive: Receive) -> tuple[bytes, Message | None]:
    """The whole body, and the message that cut it short (a disconnect), if one did."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), message
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), None


def _replaying(body: bytes, last: Message | None, receive: Receive) -> Receive:
    """A ``receive`` that gives the body already read, then whatever the client sends next."""
    first: list[Message] = [{"type": "http.request", "body": body, "more_body": last is not None}]
    if last is not None:
        first.append(last)

    async def replay() -> Message:
        if first:
            return first.pop(0)
        return await receive()

    return replay
