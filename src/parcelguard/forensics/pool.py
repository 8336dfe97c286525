"""A pool of spawned worker processes that answers in the order the work was given.

The ingest's two kinds of workers (blocks of lines, blind-index messages) share this:
spawning (never forking: a fork of a process whose Polars thread pool runs can deadlock),
one Polars thread per worker, a bounded number of pieces of work out at once, and a clear
error when a worker dies.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from multiprocessing import get_context
from types import TracebackType
from typing import TypeVar

from parcelguard.core.errors import BadInput

R = TypeVar("R")


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """``values`` set in the environment while inside (for the processes started there)."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class OrderedPool:
    """``count`` spawned workers, each started with ``initializer(*initargs)``.

    At most ``2 * count + 1`` pieces of work are out at once, so a ten-million-row file is
    never queued whole: the pipes hold a few pieces, not the file.
    """

    def __init__(
        self, count: int, initializer: Callable[..., None], initargs: Sequence[object]
    ) -> None:
        if count < 1:
            raise ValueError(f"OrderedPool: needs at least one worker, not {count}")
        self.count = count
        self._pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
            max_workers=count,
            mp_context=get_context("spawn"),
            initializer=initializer,
            initargs=tuple(initargs),
        )
        # Polars sizes its thread pool when it is imported, from the environment the process
        # started with. Each submit spawns one worker while none is idle (CPython 3.11+), and
        # a spawned worker takes far longer to start than these submits take, so all of them
        # start here, inside the environment, and import while this process goes on. Were
        # one to start later, it would only use more Polars threads, not answer differently.
        with _environment(POLARS_MAX_THREADS="1"):
            for _ in range(count):
                self._pool.submit(os.getpid)

    def __enter__(self) -> OrderedPool:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def ordered(self, work: Callable[..., R], items: Iterable[tuple[object, ...]]) -> Iterator[R]:
        """``work(*args)`` of each item, in the workers, yielded in the items' order."""
        pool = self._pool
        if pool is None:
            raise RuntimeError("OrderedPool: used after close()")
        window = 2 * self.count + 1
        pending: deque[Future[R]] = deque()
        try:
            for args in items:
                pending.append(pool.submit(work, *args))
                while len(pending) >= window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        except BrokenProcessPool as error:
            raise BadInput(
                "ingest: a worker process stopped before its work was done (out of memory, "
                "or a script calling ingest_file without an `if __name__ == '__main__':` "
                "guard); run again with fewer workers (--workers 0 reads in one process)"
            ) from error
        finally:
            for future in pending:
                future.cancel()
