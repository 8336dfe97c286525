"""Concurrent reveals decided together: one call of the service for all requests waiting.

Why: the reveal service is built for batches. For a batch it reads the workflow facts in
eight queries, asks Cedar once, binds every virtual number in one transaction and appends
every audit entry in one. Called once per HTTP request it pays all of that per request
(measured: a single reveal costs about 6 ms on the benchmark machine, a batch of 50 about
1.9 ms each). So the reveal endpoint hands its request to this batcher and awaits the
answer; a worker thread takes everything that arrived while the previous batch was being
decided, up to ``max_batch``, and decides it in one call. Nothing waits for a batch to
fill: a request that finds the worker idle is decided at once, alone, so latency at low load
is that of a single reveal and throughput at high load is that of large batches.

Semantics are unchanged: every request is decided on its own facts and audited with its
own entry. A batch that fails because the store is unreachable fails each of its requests
with that error (the endpoint answers 503); a batch that fails for any other reason is
retried one request at a time, so that one request that cannot be decided fails alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.exc import OperationalError

from parcelguard.core.errors import StoreUnavailable
from parcelguard.reveal.facts import RevealRequest
from parcelguard.reveal.service import RevealDecision


class Decider(Protocol):
    """What a worker thread decides reveals with: the :class:`RevealService` itself."""

    def reveal_batch(self, requests: Sequence[RevealRequest]) -> Sequence[RevealDecision]: ...

    def reveal(self, request: RevealRequest) -> RevealDecision: ...


@dataclass(slots=True)
class _Waiting:
    request: RevealRequest
    future: asyncio.Future[RevealDecision]
    loop: asyncio.AbstractEventLoop


def _settle(
    future: asyncio.Future[RevealDecision],
    decision: RevealDecision | None,
    error: BaseException | None,
) -> None:
    if future.done():  # the caller went away; its reveal was still decided and audited
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert decision is not None
        future.set_result(decision)


def _settle_all(
    settled: list[
        tuple[asyncio.Future[RevealDecision], RevealDecision | None, BaseException | None]
    ],
) -> None:
    for future, decision, error in settled:
        _settle(future, decision, error)


def _hand_back(batch: Sequence[_Waiting], outcomes: Sequence[RevealDecision | Exception]) -> None:
    """Each answer to its waiter: one wake-up of each event loop for the whole batch.

    Why not one ``call_soon_threadsafe`` per request: each writes to the loop's wake-up pipe
    and schedules its own callback, which the server's single event loop paid per reveal.
    """
    by_loop: dict[
        asyncio.AbstractEventLoop,
        list[tuple[asyncio.Future[RevealDecision], RevealDecision | None, BaseException | None]],
    ] = {}
    for waiting, outcome in zip(batch, outcomes, strict=True):
        answer = (
            (waiting.future, outcome, None)
            if isinstance(outcome, RevealDecision)
            else (waiting.future, None, outcome)
        )
        by_loop.setdefault(waiting.loop, []).append(answer)
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # that loop has closed: nobody waits any more
            loop.call_soon_threadsafe(_settle_all, settled)


class RevealBatcher:
    def __init__(self, service: Decider, *, max_batch: int = 256, workers: int = 1) -> None:
        if max_batch < 1 or workers < 1:
            raise ValueError("max_batch and workers must be positive")
        self._service = service
        self._max_batch = max_batch
        self._pending: list[_Waiting] = []
        self._condition = threading.Condition()
        self._closing = False
        self.batches = 0
        self.decided = 0
        self._threads = [
            threading.Thread(target=self._run, name=f"parcelguard-reveal-{n}", daemon=True)
            for n in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    async def reveal(self, request: RevealRequest) -> RevealDecision:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[RevealDecision] = loop.create_future()
        with self._condition:
            if self._closing:
                raise RuntimeError("the reveal batcher is closed")
            self._pending.append(_Waiting(request, future, loop))
            if len(self._pending) == 1:
                self._condition.notify()
        return await future

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._pending and not self._closing:
                    self._condition.wait()
                if not self._pending:  # closing, nothing left
                    return
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                if self._pending:  # more than one batch waiting: wake another worker
                    self._condition.notify()
            outcomes = self.decide([waiting.request for waiting in batch])
            self.batches += 1
            self.decided += len(batch)
            _hand_back(batch, outcomes)

    def decide(self, requests: list[RevealRequest]) -> list[RevealDecision | Exception]:
        """One batch; if it fails as a whole, each request again on its own.

        Why the retry: a batch fails as a whole when one request in it cannot be decided or
        audited (say its audit entry is refused), and strangers in the same batch must not
        fail with it. Alone, each request gets its own decision or its own error; a store
        outage fails them all anyway. The retry is safe: nothing of a failed batch was
        revealed, its virtual-number bindings are reused, and the audit append checks every
        entry before it writes any (see :func:`parcelguard.api.app.group_append`).
        """
        try:
            return list(self._service.reveal_batch(requests))
        except Exception as exc:
            if len(requests) == 1 or isinstance(exc, StoreUnavailable | OperationalError):
                return [exc] * len(requests)
        outcomes: list[RevealDecision | Exception] = []
        for request in requests:
            try:
                outcomes.append(self._service.reveal(request))
            except Exception as exc:
                outcomes.append(exc)
        return outcomes

    def close(self) -> None:
        """Decide what is waiting, then stop; later reveals are refused."""
        with self._condition:
            self._closing = True
            self._condition.notify_all()
        for thread in self._threads:
            thread.join()


class BatchPipe(Protocol):
    """One batch at a time to the decisions and its answer back (a ``BatchChannel``)."""

    def fileno(self) -> int: ...

    def send(self, requests: Sequence[RevealRequest]) -> None: ...

    def receive(self) -> list[RevealDecision]: ...


class LoopBatcher:
    """:class:`RevealBatcher`'s batching, driven by the event loop over the decision pipe.

    The same contract: whatever arrived while a batch was being decided goes in the next
    one (up to ``max_batch``), a request that finds nothing in flight is sent at once, a
    batch lost with the store fails each of its requests with that error, and a batch that
    fails for any other reason is sent again one request at a time. What changes is who
    waits: no worker thread. The loop sends a batch and the pipe wakes it when the answer
    is readable, so a reveal costs no thread hop and no wait for the interpreter lock (see
    :class:`parcelguard.api.decisions.BatchChannel`).
    """

    def __init__(self, pipe: BatchPipe, *, max_batch: int = 256) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be positive")
        self._pipe = pipe
        self._max_batch = max_batch
        self._pending: deque[_Waiting] = deque()
        self._alone: deque[_Waiting] = deque()  # of a failed batch: each decided on its own
        self._flight: tuple[list[_Waiting], bool] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        self._idle = threading.Event()
        self._idle.set()
        self.batches = 0
        self.decided = 0

    async def reveal(self, request: RevealRequest) -> RevealDecision:
        loop = asyncio.get_running_loop()
        if self._closing:
            raise RuntimeError("the reveal batcher is closed")
        self._attach(loop)
        future: asyncio.Future[RevealDecision] = loop.create_future()
        self._pending.append(_Waiting(request, future, loop))
        if self._flight is None:
            self._send()
        return await future

    def _attach(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._loop is loop:
            return
        if self._loop is not None and self._loop.is_running():
            raise RuntimeError("a LoopBatcher serves one event loop")
        self._loop = loop
        loop.add_reader(self._pipe.fileno(), self._on_answer)

    def _send(self) -> None:
        if self._alone:
            batch, alone = [self._alone.popleft()], True
        elif self._pending:
            count = min(self._max_batch, len(self._pending))
            batch, alone = [self._pending.popleft() for _ in range(count)], False
        else:
            self._idle.set()
            return
        self._idle.clear()
        try:
            self._pipe.send([waiting.request for waiting in batch])
        except Exception as exc:  # the process is gone: nothing was decided
            self._settle(batch, [exc] * len(batch))
            self._send()
            return
        self._flight = (batch, alone)

    def _on_answer(self) -> None:
        if self._flight is None:  # a wake-up without a question: the pipe closed
            return
        batch, alone = self._flight
        self._flight = None
        outcomes: list[RevealDecision | Exception]
        try:
            outcomes = list(self._pipe.receive())
        except Exception as exc:
            if len(batch) == 1 or isinstance(exc, StoreUnavailable | OperationalError):
                outcomes = [exc] * len(batch)
            else:
                self.batches += 1
                self._alone.extend(batch)  # strangers in the batch must not fail with it
                self._send()
                return
        if not alone:
            self.batches += 1
        self.decided += len(batch)
        self._settle(batch, outcomes)
        self._send()

    @staticmethod
    def _settle(batch: Sequence[_Waiting], outcomes: Sequence[RevealDecision | Exception]) -> None:
        for waiting, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, RevealDecision):
                _settle(waiting.future, outcome, None)
            else:
                _settle(waiting.future, None, outcome)

    def close(self) -> None:
        """Let what is waiting be decided, then stop reading; later reveals are refused.

        Called from a thread other than the loop's (the server's shutdown), while the loop
        still runs and answers arrive.
        """
        self._closing = True
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if loop.is_running():
            self._idle.wait(timeout=120)
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(loop.remove_reader, self._pipe.fileno())
        else:
            loop.remove_reader(self._pipe.fileno())
