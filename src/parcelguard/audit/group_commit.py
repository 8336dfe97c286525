"""Group commit: many callers append one entry each; one transaction makes them all durable.

A reveal must not return before its audit entry is durable, and a transaction per entry
caps the log at the disk's fsync rate. The committer lets concurrent callers wait together:
the first request opens a batch, requests arriving while the previous batch commits join the
next one, and every caller is released only after the transaction holding its entry has
committed. If that transaction fails, every caller in it gets the error (fail closed: the
operation that needed the entry is refused). Entries are checked and encoded in the caller's
thread before they queue, so a bad entry is refused to its own caller and never fails a batch.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from types import TracebackType

from parcelguard.audit.entry import AuditEntry, EncodedEntry
from parcelguard.audit.log import AuditLog, encode_all

_STOP = object()


class GroupCommitter:
    def __init__(self, log: AuditLog, max_batch: int = 5_000) -> None:
        self._log = log
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="parcelguard-audit", daemon=True)
        self._thread.start()
        self.batches = 0

    def append(self, entry: AuditEntry, timeout: float | None = 30.0) -> int:
        """Append one entry; return its index once it is durable (or raise)."""
        return self.submit(entry).result(timeout=timeout)

    def submit(self, entry: AuditEntry) -> Future[int]:
        """Queue one entry; the future holds its index once durable, or the write's error.

        For callers that keep many requests in flight (an asynchronous server): each must
        still wait for its future before answering. A bad entry raises here, at once.
        """
        (encoded,) = encode_all([entry])
        done: Future[int] = Future()
        self._queue.put((encoded, done))
        return done

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            pending = [first]
            stop = False
            while len(pending) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                pending.append(item)
            requests: list[tuple[EncodedEntry, Future[int]]] = pending  # type: ignore[assignment]
            try:
                indices = self._log.append_encoded([entry for entry, _ in requests])
            except BaseException as exc:  # every waiter learns its entry was not written
                for _, done in requests:
                    done.set_exception(exc)
            else:
                for (_, done), index in zip(requests, indices, strict=True):
                    done.set_result(index)
            self.batches += 1
            if stop:
                return

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join()

    def __enter__(self) -> GroupCommitter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
