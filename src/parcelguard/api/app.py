"""The HTTP API: the one door, virtual-number routing, policy explain and the audit log.

``create_app(context)`` builds the FastAPI application from an :class:`ApiContext` (the
reveal service, the audit log, the number pool, the authenticator), so tests build it
in-process on their own store; ``app_from_env`` is the factory ``parcelguard serve`` hands
to uvicorn, one per worker process.

Decisions this module makes, each documented in ``docs/api.md``:

* A denial is an answer: ``/v1/reveal`` and ``/v1/labels/redeem`` return HTTP 200 with
  ``allowed: false`` and the reason, exactly as for an allow, because the decision was made
  and audited. HTTP errors are for requests that were not decided: no valid token (401), a
  role that may not use the endpoint (403), a body of the wrong shape (422), and 503 when the
  decision could not be made or could not be audited (``audit_unavailable``: fail closed).
* The actor and device always come from the token. Bodies forbid unknown members.
* ``/v1/policy/explain`` is for ``security_officer`` and ``hq_analyst`` only: it reveals no
  personal data, but it answers workflow facts (where a parcel is, how fresh it is) about
  any waybill, and freshness is what buyers of leaked waybills pay for.
* ``/v1/audit/head`` and ``/v1/audit/consistency`` hold only hashes and sizes: any
  authenticated caller (an employee checking the log only grows). ``/v1/audit/proof``
  returns an entry's bytes, which say who revealed what: the entry's own actor may have it
  (a courier proving his reveal was logged), and the two auditor roles may have any.
* Reveals go through :class:`~parcelguard.api.batching.RevealBatcher` and the service's
  audit appends through a :class:`~parcelguard.audit.group_commit.GroupCommitter`, so
  concurrent requests share queries and transactions; ``serve`` runs the service in a
  process of its own (:mod:`parcelguard.api.decisions`), away from the event loop's GIL,
  and the event loop drives that process's batches itself (:class:`LoopBatcher`).

No ``from __future__ import annotations`` here: FastAPI reads the endpoints' annotations at
run time, and some name dependencies local to the functions that build the routes.
"""

import gc
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Final

import anyio.to_thread
import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.responses import Response

import parcelguard
from parcelguard.api.auth import ApiTokens, Authenticator, Principal, api_key
from parcelguard.api.batching import LoopBatcher, RevealBatcher
from parcelguard.api.decisions import DecisionProcess
from parcelguard.api.fast_reveal import (
    NO_STORE,
    REVEAL_PATH,
    RevealFastPath,
    client_ip,
    decision_response,
    reveal_request,
)
from parcelguard.api.middleware import AccessMiddleware
from parcelguard.api.models import (
    ConsistencyModel,
    DecisionModel,
    ExplainBody,
    HeadModel,
    HealthModel,
    ProofModel,
    RedeemBody,
    RevealBody,
    RouteBody,
    RouteModel,
)
from parcelguard.api.problems import (
    ApiProblem,
    install,
    request_id_of,
    responses,
    unauthenticated,
)
from parcelguard.audit.checkpoint import parse_checkpoint
from parcelguard.audit.entry import AuditEntry, decode_entry
from parcelguard.audit.group_commit import GroupCommitter
from parcelguard.audit.jsonable import hexed
from parcelguard.audit.log import AuditLog, encode_all
from parcelguard.audit.note import Signer
from parcelguard.config import Settings
from parcelguard.core.clock import utc_now
from parcelguard.core.errors import BadInput, StoreUnavailable
from parcelguard.reveal.facts import RevealRequest
from parcelguard.reveal.service import AuditAppend, RevealService
from parcelguard.storage.schema import audit_entries
from parcelguard.vnum import VirtualNumbers

AUDITOR_ROLES: Final = frozenset({"security_officer", "hq_analyst"})
"""Roles that may explain any request and read any audit entry's proof."""
API_PREFIX: Final = "/v1"


@dataclass
class ApiContext:
    """Everything the endpoints use; built by :func:`open_context` or by a test."""

    service: RevealService
    log: AuditLog
    numbers: VirtualNumbers
    authenticator: Authenticator
    log_signer: Signer
    log_origin: str
    clock: Callable[[], datetime] = utc_now
    batch_workers: int = 1
    decider: DecisionProcess | None = None
    """Where reveals and redemptions are decided: a :class:`DecisionProcess`, or (None)
    ``service`` itself in this process. Explain always runs here: it writes nothing."""
    closers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def door(self) -> DecisionProcess | RevealService:
        """Where a redemption is decided (reveals go through the app's batcher)."""
        return self.decider if self.decider is not None else self.service

    def close(self) -> None:
        """Commit what the group committer holds, then release engines; once."""
        closers, self.closers = self.closers, []
        for close in closers:
            close()


def group_append(committer: GroupCommitter) -> AuditAppend:
    """The service's audit append through the committer: submit all, then wait for all.

    Waiting on each entry before submitting the next would put a batch's entries into
    successive transactions, one wait each; submitting first lets them share one. Every
    entry is checked first, so a call is refused whole or queued whole, never half-written.
    """

    def append(entries: Sequence[AuditEntry]) -> list[int]:
        encode_all(entries)  # a refused entry fails the call before any entry is queued
        receipts = [committer.submit(entry) for entry in entries]
        return [receipt.result() for receipt in receipts]

    return append


def open_context(
    settings: Settings,
    clock: Callable[[], datetime] = utc_now,
    *,
    cache_seconds: float = 30.0,
    batch_workers: int = 1,
    decision_process: bool = False,
) -> ApiContext:
    """The context of a server on the configured store; the API key is created if missing.

    With ``decision_process`` reveals and redemptions are decided in a child process (see
    :mod:`parcelguard.api.decisions`); it reads the real clock, so ``clock`` must be the
    default then.
    """
    from parcelguard.admin import log_signer, open_audit_log, open_reveal_service

    if decision_process and clock is not utc_now:
        raise ValueError("the decision process keeps real time; give no clock")
    log = open_audit_log(settings)
    committer = GroupCommitter(log)
    closers: list[Callable[[], None]] = [committer.close, log.engine.dispose]
    try:
        service = open_reveal_service(settings, clock, audit_append=group_append(committer))
        closers.append(service.engine.dispose)
        tokens = ApiTokens(api_key(settings, create=True))
        signer = log_signer(settings)
        decider = DecisionProcess(settings) if decision_process else None
    except BaseException:
        for close in closers:
            close()
        raise
    if decider is not None:
        closers.insert(0, decider.close)  # its last batch is committed before the rest stops
    return ApiContext(
        service=service,
        log=log,
        numbers=VirtualNumbers(service.engine),
        authenticator=Authenticator(tokens, service.engine, clock, cache_seconds=cache_seconds),
        log_signer=signer,
        log_origin=settings.log_origin,
        clock=clock,
        batch_workers=batch_workers,
        decider=decider,
        closers=closers,
    )


def app_from_env() -> FastAPI:
    """The uvicorn factory of ``parcelguard serve`` (each worker process calls it).

    ``PARCELGUARD_API_DECISIONS`` is ``process`` (the default: reveals decided in a child
    process) or ``thread`` (in this process, beside the event loop).
    """
    import os

    settings = Settings.from_env()
    mode = os.environ.get("PARCELGUARD_API_DECISIONS", "process") or "process"
    if mode not in ("process", "thread"):
        raise BadInput(f"PARCELGUARD_API_DECISIONS: {mode!r}, give process or thread")
    app = create_app(open_context(settings, decision_process=mode == "process"))
    settle_heap()  # everything long-lived now exists
    return app


def _client_ip(request: Request) -> str:
    return client_ip(request.scope)


def settle_heap() -> None:
    """Move everything built so far out of the garbage collector's sight.

    Why: the application, the policies, SQLAlchemy's and pydantic's caches are long-lived
    and hold hundreds of thousands of objects, and a full collection walked all of them
    every few seconds under load, pausing every request for 60-80 ms (measured: the
    benchmark's p99 fell from about 100 ms to about 30 ms with this). Frozen objects are
    never collected, which is right for what lives as long as the process. Called by the
    server's factory and the decision process once they are built, not by tests.
    """
    gc.collect()
    gc.freeze()


def create_app(context: ApiContext, *, fast_reveal: bool = True) -> FastAPI:
    """The application over ``context``.

    ``fast_reveal`` puts :class:`~parcelguard.api.fast_reveal.RevealFastPath` in front of
    the framework for common reveals (the same checks and answers, less CPU); False leaves
    every request to the framework, which the tests use to compare the two.
    """
    batcher: RevealBatcher | LoopBatcher
    if isinstance(context.decider, DecisionProcess):
        batcher = LoopBatcher(context.decider.batch_channel())
    else:
        batcher = RevealBatcher(context.service, workers=context.batch_workers)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield

        def close() -> None:
            batcher.close()
            context.close()

        await anyio.to_thread.run_sync(close)

    app = FastAPI(
        title="ParcelGuard API",
        summary="Recipient data behind one audited door. 收件人信息，只有一扇受审计的门。",
        version=parcelguard.__version__,
        lifespan=lifespan,
        # Swagger UI and ReDoc load scripts from a CDN; the document itself is published.
        docs_url=None,
        redoc_url=None,
        # Native OpenTelemetry spans would record raw paths and query strings.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.context = context
    app.state.batcher = batcher
    install(app)
    caller = _principal_dependency(context.authenticator)
    app.include_router(_service_routes(context))
    reveal_routes = _reveal_routes(context, batcher, caller)
    app.include_router(reveal_routes)
    app.include_router(_audit_routes(context, caller))
    if fast_reveal:  # added first, so it runs inside the access middleware
        app.add_middleware(
            RevealFastPath,
            route=next(r for r in reveal_routes.routes if getattr(r, "path", "") == REVEAL_PATH),
            authenticator=context.authenticator,
            batcher=batcher,
        )
    app.add_middleware(AccessMiddleware)
    return app


def _principal_dependency(auth: Authenticator) -> Any:
    """``Annotated[Principal, Depends(...)]`` for endpoints: the token's employee and device."""
    bearer = HTTPBearer(
        auto_error=False,
        scheme_name="ApiToken",
        description="An API token from `parcelguard api token --employee E --device D`.",
    )

    async def principal_of(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Principal:
        if credentials is None:
            raise unauthenticated("token_missing", "send Authorization: Bearer <API token>")
        claims = auth.claims(credentials.credentials)
        principal = auth.cached(claims)
        if principal is None:  # a store read: off the event loop
            principal = await anyio.to_thread.run_sync(auth.principal, claims)
        request.state.employee_id = principal.employee_id
        request.state.device_id = principal.device_id
        return principal

    return Annotated[Principal, Depends(principal_of)]


def _auditor(principal: Principal, what: str) -> None:
    if principal.role not in AUDITOR_ROLES:
        raise ApiProblem(
            403,
            "forbidden",
            f"{what} is for the roles {', '.join(sorted(AUDITOR_ROLES))}",
            code="role_not_allowed",
        )


class _StoreProbe:
    """The store's answer to a trivial query, at most ``max_age`` seconds old.

    Why cached: health is polled by load balancers and monitors, unauthenticated; a query
    per poll would let anyone who can reach the port make the database work. One probe a
    second (run off the event loop) is fresh enough for any balancer.
    """

    def __init__(self, engine: sa.Engine, max_age: float = 1.0) -> None:
        self._engine = engine
        self._max_age = max_age
        self._at = -1e9
        self._size: int | None = None
        self._lock = anyio.Lock()

    def _probe(self) -> int | None:
        try:
            with self._engine.connect() as conn:
                last = conn.execute(sa.select(sa.func.max(audit_entries.c.seq))).scalar()
        except (sa.exc.SQLAlchemyError, StoreUnavailable):
            return None
        return 0 if last is None else int(last) + 1

    async def audit_size(self) -> int | None:
        """The log's size, or None when the store does not answer."""
        if time.monotonic() - self._at >= self._max_age:
            async with self._lock:  # one probe at a time; the others take its answer
                if time.monotonic() - self._at >= self._max_age:
                    self._size = await anyio.to_thread.run_sync(self._probe)
                    self._at = time.monotonic()
        return self._size


def _service_routes(context: ApiContext) -> APIRouter:
    router = APIRouter(prefix=API_PREFIX, tags=["service"])
    probe = _StoreProbe(context.log.engine)

    @router.get(
        "/health",
        response_model=HealthModel,
        summary="Store reachable, policies loaded, audit log size (no authentication)",
    )
    async def health() -> Response:
        """Never personal data: counts and a status. 503 when the store does not answer."""
        size = await probe.audit_size()
        body = {
            "status": "ok" if size is not None else "unavailable",
            "store": "reachable" if size is not None else "unreachable",
            "policies": len(context.service.policies.policies),
            "audit_tree_size": size,
            "version": parcelguard.__version__,
        }
        return JSONResponse(body, status_code=200 if size is not None else 503)

    return router


def _reveal_routes(
    context: ApiContext, batcher: RevealBatcher | LoopBatcher, Caller: Any
) -> APIRouter:
    router = APIRouter(prefix=API_PREFIX)
    guarded = responses(401, 422, 503)

    @router.post(
        "/reveal",
        response_model=DecisionModel,
        responses=guarded,
        tags=["reveal"],
        summary="Ask the one door for a recipient's name, phone or address",
    )
    async def reveal(body: RevealBody, request: Request, caller: Caller) -> Response:
        """Decided on the workflow's facts and audited before any value leaves.

        The actor and device are the token's. A denial is HTTP 200 with ``allowed: false``.
        """
        decision = await batcher.reveal(
            reveal_request(body, caller, request.scope, request_id_of(request))
        )
        return decision_response(decision)

    @router.post(
        "/labels/redeem",
        response_model=DecisionModel,
        responses=guarded,
        tags=["reveal"],
        summary="Redeem a label's QR token (purpose delivery)",
    )
    def redeem(body: RedeemBody, request: Request, caller: Caller) -> Response:
        decision = context.door.redeem_label(
            body.token,
            RevealRequest(
                actor=caller.employee_id,
                waybill_no="",
                field=body.field,
                purpose="delivery",
                device_id=caller.device_id,
                channel=caller.channel,
                ip=_client_ip(request),
                request_id=request_id_of(request),
            ),
        )
        return decision_response(decision)

    @router.post(
        "/vnum/route",
        response_model=RouteModel,
        responses=responses(400, 401, 422, 503),
        tags=["virtual numbers"],
        summary="May this device's call to a virtual number go through?",
    )
    def route(body: RouteBody, request: Request, caller: Caller) -> Response:
        """The caller's device is the token's; the answer never holds the recipient's phone.

        Only a connected call names its waybill: a refused one does not say whose number
        it is. The decision goes to the access log (reason and binding id).
        """
        decision = context.numbers.route(body.number, caller.device_id, context.clock())
        request.state.log_note = {
            "route_reason": decision.reason,
            "connected": decision.connected,
            "binding_id": decision.binding_id,
        }
        connected = decision.connected
        valid_until = decision.valid_until
        return JSONResponse(
            {
                "number": decision.number,
                "connected": connected,
                "reason": decision.reason,
                "reason_text": {"en": decision.reason_en, "zh": decision.reason_zh},
                "at": decision.at.isoformat(),
                "valid_until": valid_until.isoformat() if connected and valid_until else None,
                "waybill_no": decision.waybill_no if connected else None,
            },
            headers=NO_STORE,
        )

    @router.post(
        "/policy/explain",
        responses=responses(401, 403, 422, 503),
        tags=["policy"],
        summary="Which policy decides a request, on which facts (auditor roles)",
    )
    def explain(body: ExplainBody, request: Request, caller: Caller) -> Response:
        """Runs the same checks and Cedar call as a reveal; prepares and audits nothing."""
        _auditor(caller, "policy explain")
        own = body.actor is None or body.actor == caller.employee_id
        result = context.service.explain(
            RevealRequest(
                actor=body.actor or caller.employee_id,
                waybill_no=body.waybill_no,
                field=body.field,
                purpose=body.purpose,
                device_id=body.device_id or (caller.device_id if own else ""),
                channel=body.channel or caller.channel,
                ip=_client_ip(request),
                request_id=request_id_of(request),
                case_id=body.case_id or "",
            )
        )
        return JSONResponse(result, headers=NO_STORE)

    return router


def _audit_routes(context: ApiContext, Caller: Any) -> APIRouter:
    router = APIRouter(prefix=f"{API_PREFIX}/audit", tags=["audit"])
    log = context.log

    @router.get(
        "/head",
        response_model=HeadModel,
        responses=responses(401, 503),
        summary="The log's size, root hash and a signed checkpoint",
    )
    def audit_head(caller: Caller) -> Response:
        note = log.checkpoint(context.log_signer, context.log_origin, context.clock())
        signed = parse_checkpoint(note.partition("\n\n")[0] + "\n")  # the note's own head
        return JSONResponse(
            hexed({"tree_size": signed.size, "root_hash": signed.root_hash, "checkpoint": note})
        )

    @router.get(
        "/proof",
        response_model=ProofModel,
        responses=responses(400, 401, 403, 422, 503),
        summary="Inclusion proof of entry INDEX in the tree of SIZE",
    )
    def audit_proof(
        caller: Caller,
        index: Annotated[int, Query(ge=0, le=2**62)],
        size: Annotated[int, Query(ge=1, le=2**62)],
    ) -> Response:
        """The entry's own actor, or an auditor role, may have it: the entry says who did what."""
        try:
            proof = log.prove(index, size)
        except BadInput:
            raise ApiProblem(
                400, "bad-input", "index and size: need 0 <= index < size <= the log's size"
            ) from None
        entry = proof["entry"]
        assert isinstance(entry, bytes)
        if caller.role not in AUDITOR_ROLES and decode_entry(entry).actor != caller.employee_id:
            raise ApiProblem(
                403,
                "forbidden",
                "an entry's proof is for its own actor and the roles "
                + ", ".join(sorted(AUDITOR_ROLES)),
                code="not_your_entry",
            )
        return JSONResponse(hexed(proof), headers=NO_STORE)

    @router.get(
        "/consistency",
        response_model=ConsistencyModel,
        responses=responses(400, 401, 422, 503),
        summary="Consistency proof between two tree sizes",
    )
    def audit_consistency(
        caller: Caller,
        first: Annotated[int, Query(alias="from", ge=1, le=2**62)],
        second: Annotated[int, Query(alias="to", ge=1, le=2**62)],
    ) -> Response:
        try:
            proof = log.consistency(first, second)
        except BadInput:
            raise ApiProblem(
                400, "bad-input", "from and to: need 0 < from <= to <= the log's size"
            ) from None
        return JSONResponse(hexed(proof))

    return router


def openapi_paths(app: FastAPI) -> list[str]:
    """The published paths, for ``docs/api.md`` and tests."""
    schema: dict[str, Any] = app.openapi()
    return sorted(schema["paths"])
