"""The reveal service in its own process, fed batches of requests over a pipe.

Why a process and not a thread beside the event loop: both are Python, and they share one
GIL. The service releases the GIL on every database call and must wait to take it back
from the event loop (and the event loop from it), so each slows the other well beyond its
own CPU time (measured on the benchmark machine: the service spent 0.23 ms of CPU per
request in a batch of 100 when alone, and about 0.67 ms inside the server). In a process of
its own it has its own GIL, and the event loop sends it batches over a pipe it reads only
when the answer is there (:class:`BatchChannel`), so the loop runs freely. The cost is pickling a batch both ways, tens of
microseconds.

The child builds the service from :class:`~parcelguard.config.Settings` with
:func:`~parcelguard.admin.open_reveal_service`, as every other user of the one door does
(same store, keys, policies, audit log), so the door is the same: this only moves where it
runs. It decides one batch at a time, each batch's audit entries in one transaction. It ignores SIGINT (the server
stops it by closing the pipe, after the last batch), and it exits when the pipe closes, so
it never outlives the server. Errors come back by type: ParcelGuard's own errors with their
message and code, a lost database as :class:`StoreUnavailable`, anything else as a bare
type name (its text may quote values).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import signal
import threading
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

from parcelguard.config import Settings
from parcelguard.core.errors import BadInput, KeyError_, ParcelGuardError, StoreUnavailable
from parcelguard.reveal.facts import RevealRequest
from parcelguard.reveal.service import RevealDecision, RevealService

_ERRORS: dict[str, type[ParcelGuardError]] = {
    "BadInput": BadInput,
    "StoreUnavailable": StoreUnavailable,
    "KeyError_": KeyError_,
}


class DecisionFailed(RuntimeError):
    """An unexpected error in the decision process; only its type is known here."""


def _as_message(exc: BaseException) -> tuple[str, str, str]:
    from sqlalchemy.exc import OperationalError

    if isinstance(exc, ParcelGuardError):
        return (type(exc).__name__, exc.message, exc.code)
    if isinstance(exc, OperationalError):
        return ("StoreUnavailable", "the store cannot be reached", "store_unavailable")
    return ("", type(exc).__name__, "internal_error")


def _as_error(kind: str, message: str, code: str) -> Exception:
    if kind in _ERRORS:
        return _ERRORS[kind](message)
    if kind:
        return ParcelGuardError(message, code=code)
    return DecisionFailed(f"the decision process failed ({message})")


def _serve(settings: Settings, conn: Connection, batches: Connection) -> None:
    """The child: build the service, then answer on either pipe until one closes.

    ``conn`` carries calls from the server's threads (redemptions),
    ``batches`` the event loop's own batches (:class:`BatchChannel`); each answer goes back
    on the pipe its question came on.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from parcelguard.admin import open_reveal_service
    from parcelguard.api.app import settle_heap

    try:
        # The log's own append: a batch is already all the concurrent requests of the
        # moment, so its entries share one transaction; a group committer could add
        # nothing here but a thread hop per batch (measured: about a tenth of the time).
        service = open_reveal_service(settings)
    except BaseException as exc:
        conn.send(("failed", _as_message(exc)))
        return
    settle_heap()
    conn.send(("ready", None))
    try:
        while _answer_ready(service, multiprocessing.connection.wait([conn, batches])):
            pass
    finally:
        service.engine.dispose()


def _answer_ready(service: RevealService, ready: list[Any]) -> bool:
    """Answer each pipe with a question waiting; False once the server has hung up."""
    for pipe in ready:
        try:
            message = pipe.recv()
        except EOFError:
            return False
        if message is None:
            return False
        try:
            if message[0] == "batch":
                answer: Any = service.reveal_batch(message[1])
            else:
                answer = service.redeem_label(message[1], message[2])
        except Exception as exc:
            pipe.send(("error", _as_message(exc)))
        else:
            pipe.send(("ok", answer))
    return True


class BatchChannel:
    """The event loop's own pipe to the decision process: send a batch, read its answer.

    Why a pipe of its own, read from the event loop: through a worker thread every batch
    cost two thread hops in the server, each waiting for the interpreter lock the event
    loop holds while it serves requests. Here the loop writes the batch and is woken by the
    pipe when the answer is there (see :class:`parcelguard.api.batching.LoopBatcher`). One
    batch at a time: the caller sends the next only after reading the answer.
    """

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def fileno(self) -> int:
        return self._conn.fileno()

    def send(self, requests: Sequence[RevealRequest]) -> None:
        try:
            self._conn.send(("batch", list(requests)))
        except OSError:
            raise StoreUnavailable("the decision process has stopped") from None

    def receive(self) -> list[RevealDecision]:
        try:
            status, answer = self._conn.recv()
        except (EOFError, OSError):
            raise StoreUnavailable("the decision process has stopped") from None
        if status != "ok":
            raise _as_error(*answer)
        decisions: list[RevealDecision] = answer
        return decisions


class DecisionProcess:
    """The service in a child process: redemptions over one pipe, reveals over another.

    Reveals go in batches over :meth:`batch_channel`, which the event loop drives; a
    redemption (rare, from a request thread) is one call over the other pipe at a time.
    """

    def __init__(self, settings: Settings, *, start_timeout: float = 120.0) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._batches, child_batches = context.Pipe()
        self._process = context.Process(
            target=_serve,
            args=(settings, child, child_batches),
            name="parcelguard-decisions",
            daemon=False,
        )
        self._process.start()
        child.close()
        child_batches.close()
        self._lock = threading.Lock()
        if not self._conn.poll(start_timeout):
            self._process.kill()
            raise StoreUnavailable("the decision process did not start in time")
        status, detail = self._conn.recv()
        if status != "ready":
            self._process.join()
            raise _as_error(*detail)

    def _ask(self, message: tuple[Any, ...]) -> Any:
        with self._lock:
            try:
                self._conn.send(message)
                status, answer = self._conn.recv()
            except (EOFError, OSError):
                raise StoreUnavailable("the decision process has stopped") from None
        if status != "ok":
            raise _as_error(*answer)
        return answer

    def batch_channel(self) -> BatchChannel:
        """The pipe an event loop drives itself; for one :class:`LoopBatcher` only."""
        return BatchChannel(self._batches)

    def redeem_label(self, token: str, request: RevealRequest) -> RevealDecision:
        decision: RevealDecision = self._ask(("redeem", token, request))
        return decision

    def close(self) -> None:
        """Let the child finish its batch and commit its audit entries, then stop it."""
        with self._lock:
            with contextlib.suppress(OSError):  # already gone: nothing to finish
                self._conn.send(None)
            self._process.join(timeout=60)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
            self._conn.close()
            self._batches.close()
