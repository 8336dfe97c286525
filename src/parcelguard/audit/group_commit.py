"""Group commit: many callers append one entry each; one transaction makes them all durable.

A reveal must not return before its audit entry is durable, and a transaction per entry
caps the log at the disk's fsync rate. The committer lets concurrent callers wait together:
entries arriving while a transaction commits gather in the next open batch, the committer
thread takes the whole batch as one transaction, and every caller in it is released only
after that transaction has committed. If it fails, every caller in it gets the error (fail
closed: the operation that needed the entry is refused). Entries are checked and encoded in
the caller's thread before they queue, so a bad entry is refused to its own caller and never
fails a batch.

Why batches and not a future per entry: the per-entry handshake (a future, a queue item, a
wake-up) cost more than the entry's share of the transaction (measured in
bench/audit_log.py); callers of one batch share one event, and the committer sleeps only
when no batch is open.
"""

from __future__ import annotations

import threading
from types import TracebackType

from parcelguard.audit.entry import AuditEntry, EncodedEntry
from parcelguard.audit.log import AuditLog, encode_all


class _Batch:
    __slots__ = ("done", "entries", "error", "first")

    def __init__(self) -> None:
        self.entries: list[EncodedEntry] = []
        self.done = threading.Event()
        self.first = -1
        self.error: BaseException | None = None


class Receipt:
    """A submitted entry: :meth:`result` waits until it is durable and gives its index."""

    __slots__ = ("_batch", "_position")

    def __init__(self, batch: _Batch, position: int) -> None:
        self._batch = batch
        self._position = position

    def result(self, timeout: float | None = 30.0) -> int:
        if not self._batch.done.wait(timeout):
            raise TimeoutError("the audit log did not acknowledge the entry in time")
        if self._batch.error is not None:
            raise self._batch.error
        return self._batch.first + self._position


class GroupCommitter:
    def __init__(self, log: AuditLog, max_batch: int = 5_000) -> None:
        self._log = log
        self._max_batch = max_batch
        self._lock = threading.Condition()
        self._open = _Batch()
        self._closing = False
        self.batches = 0
        self._thread = threading.Thread(target=self._run, name="parcelguard-audit", daemon=True)
        self._thread.start()

    def append(self, entry: AuditEntry, timeout: float | None = 30.0) -> int:
        """Append one entry; return its index once it is durable (or raise)."""
        return self.submit(entry).result(timeout=timeout)

    def submit(self, entry: AuditEntry) -> Receipt:
        """Queue one entry; its receipt gives the index once durable, or the write's error.

        For callers that keep many requests in flight (an asynchronous server): each must
        still wait for its receipt before answering. A bad entry raises here, at once. When
        the open batch is full the caller waits for the committer to take it (back-pressure).
        """
        (encoded,) = encode_all([entry])
        with self._lock:
            while len(self._open.entries) >= self._max_batch and not self._closing:
                self._lock.wait()
            if self._closing:
                raise RuntimeError("the group committer is closed")
            batch = self._open
            batch.entries.append(encoded)
            if len(batch.entries) == 1:
                self._lock.notify_all()  # the committer sleeps only when no batch is open
            return Receipt(batch, len(batch.entries) - 1)

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._open.entries and not self._closing:
                    self._lock.wait()
                batch = self._open
                if not batch.entries:  # closing, nothing left
                    return
                self._open = _Batch()
                self._lock.notify_all()  # callers held back by a full batch may go on
            try:
                batch.first = self._log.append_encoded(batch.entries)[0]
            except BaseException as exc:  # every waiter learns its entry was not written
                batch.error = exc
            batch.done.set()
            self.batches += 1

    def close(self) -> None:
        """Commit what is open, then stop; later submits are refused."""
        with self._lock:
            self._closing = True
            self._lock.notify_all()
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
