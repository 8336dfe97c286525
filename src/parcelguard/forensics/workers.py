"""Worker processes for a large ingest: blocks and blind-index slices on every core.

A ten-million-row file is CPU-bound in two places, reading its blocks and blind-indexing
its persons, and both are Python driving Polars and ``hashlib``, so threads share one
interpreter lock. Worker processes do not. Each worker is given the layout, the recognisers
and the blind indexer once, when it starts, and afterwards only blocks and slices.

What crosses to a worker: blocks of the file's lines (already in memory in the ingest), the
distinct persons' values a slice at a time, and the blind-index key. Nothing is written to
disk; the pipes are the ingest's own, to processes it started from the same interpreter.
Results come back in the order the work was given, so the outcome is the same as in one
process (tested): only the time differs.

Workers are spawned, never forked: a fork of a process whose Polars thread pool is running
can deadlock. Each uses one Polars thread, since the parallelism is the workers'.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import get_context
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

import pyarrow as pa

from parcelguard.core.errors import BadInput
from parcelguard.forensics.blocks import BlockRows, TextLayout, read_block
from parcelguard.forensics.persons import hash_messages
from parcelguard.forensics.reading import LineBlock

if TYPE_CHECKING:
    from parcelguard.forensics.recognisers.base import Recogniser
    from parcelguard.vault.blind_index import BlindIndexer

T = TypeVar("T")
R = TypeVar("R")

# A file smaller than this many blocks is read in the ingest's own process: starting a
# worker (an interpreter importing Polars and the recognisers' tables) costs about a second.
MIN_BLOCKS_FOR_WORKERS = 4
MAX_WORKERS = 8


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def default_workers(size: int, block_bytes: int) -> int:
    """Worker processes for a file of ``size`` bytes: none for a small one, else one a CPU."""
    if size < MIN_BLOCKS_FOR_WORKERS * block_bytes:
        return 0
    cpus = usable_cpus()
    return min(cpus, MAX_WORKERS) if cpus > 1 else 0


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


# -- what a worker holds ------------------------------------------------------------------


@dataclass
class _WorkerState:
    """What a worker was given when it started (one per worker process)."""

    layout: TextLayout | None = None
    recognisers: dict[str, Recogniser] = field(default_factory=dict)
    indexer: BlindIndexer | None = None


_given = _WorkerState()


def _start_worker(
    layout: TextLayout | None,
    recognisers: Sequence[Recogniser],
    indexer: BlindIndexer,
) -> None:
    _given.layout = layout
    _given.recognisers = {r.role: r for r in recognisers}
    _given.indexer = indexer


def _read_in_worker(block: LineBlock, header_line: int | None) -> BlockRows:
    assert _given.layout is not None, "worker started without a layout"
    return read_block(block, _given.layout, _given.recognisers, header_line=header_line)


def _digests_in_worker(messages: pa.Array) -> bytes:
    assert _given.indexer is not None, "worker started without a key"
    return hash_messages(_given.indexer, messages)


# -- the ingest's side ----------------------------------------------------------------------


class IngestWorkers:
    """Blocks read and slices indexed in order, in worker processes or (``count=0``) in this one.

    At most ``window`` pieces of work are out at once, so a ten-million-row file is never
    queued whole: the pipes hold a few blocks, not the file.
    """

    def __init__(
        self,
        count: int,
        *,
        layout: TextLayout | None,
        recognisers: Sequence[Recogniser],
        indexer: BlindIndexer,
    ) -> None:
        self.count = count
        self._layout = layout
        self._recognisers: dict[str, Recogniser] = {r.role: r for r in recognisers}
        self._indexer = indexer
        self._pool: ProcessPoolExecutor | None = None
        if count > 0:
            self._pool = ProcessPoolExecutor(
                max_workers=count,
                mp_context=get_context("spawn"),
                initializer=_start_worker,
                initargs=(layout, list(recognisers), indexer),
            )
            # Polars sizes its thread pool when it is imported, from the environment the
            # process started with; each submit spawns one worker until all have started,
            # and they start importing while this process reads the file's first block.
            with _environment(POLARS_MAX_THREADS="1"):
                for _ in range(count):
                    self._pool.submit(os.getpid)

    def __enter__(self) -> IngestWorkers:
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

    @property
    def window(self) -> int:
        return 2 * self.count + 1

    def read_blocks(self, blocks: Iterable[tuple[LineBlock, int | None]]) -> Iterator[BlockRows]:
        """Each ``(block, header_line)`` read, in order."""
        if self._pool is None:
            layout = self._layout
            assert layout is not None, "read_blocks needs a layout"
            for block, header_line in blocks:
                yield read_block(block, layout, self._recognisers, header_line=header_line)
            return
        yield from self._ordered(_read_in_worker, blocks)

    def digests(self, batches: Iterable[pa.Array]) -> Iterator[bytes]:
        """Each batch of index messages hashed, the digests of one batch joined, in order.

        Only messages cross to a worker and only digests come back: the persons table
        itself is built here, so a slice is not serialised twice.
        """
        if self._pool is None:
            for messages in batches:
                yield hash_messages(self._indexer, messages)
            return
        yield from self._ordered(_digests_in_worker, ((batch,) for batch in batches))

    def _ordered(self, work: Callable[..., R], items: Iterable[tuple[object, ...]]) -> Iterator[R]:
        pool = self._pool
        assert pool is not None
        pending: deque[Future[R]] = deque()
        try:
            for args in items:
                pending.append(pool.submit(work, *args))
                while len(pending) >= self.window:
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
