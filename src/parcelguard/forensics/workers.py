"""Worker processes for a large ingest: a text file's blocks read on every CPU.

A ten-million-row file is CPU-bound in two places, reading its blocks and blind-indexing
its persons, and both are Python driving Polars and ``hashlib``, so threads share one
interpreter lock. Worker processes do not. A block worker is given the layout and the
recognisers once, when it starts, and afterwards only blocks (already in the ingest's
memory); the persons are hashed later by :mod:`.hashers`. Results come back in the order
the blocks were given, so the outcome is the same as in one process (tested): only the time
differs. Nothing is written to disk.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING

from parcelguard.forensics.blocks import BlockRows, TextLayout, read_block
from parcelguard.forensics.pool import OrderedPool
from parcelguard.forensics.reading import LineBlock

if TYPE_CHECKING:
    from parcelguard.forensics.recognisers.base import Recogniser

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


@dataclass
class _Given:
    """What a block worker was given when it started (one per worker process)."""

    layout: TextLayout | None = None
    recognisers: dict[str, Recogniser] = field(default_factory=dict)


_given = _Given()


def _start(layout: TextLayout, recognisers: Sequence[Recogniser]) -> None:
    _given.layout = layout
    _given.recognisers = {r.role: r for r in recognisers}


def _read(block: LineBlock, header_line: int | None) -> BlockRows:
    if _given.layout is None:
        raise RuntimeError("block worker started without a layout")
    return read_block(block, _given.layout, _given.recognisers, header_line=header_line)


class BlockReaders:
    """Blocks read in order: in ``count`` worker processes, or in this one when 0."""

    def __init__(
        self, count: int, *, layout: TextLayout, recognisers: Sequence[Recogniser]
    ) -> None:
        self.count = count
        self._layout = layout
        self._recognisers: dict[str, Recogniser] = {r.role: r for r in recognisers}
        self._pool = OrderedPool(count, _start, (layout, list(recognisers))) if count > 0 else None

    def __enter__(self) -> BlockReaders:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            self._pool.close()

    def read_blocks(self, blocks: Iterable[tuple[LineBlock, int | None]]) -> Iterator[BlockRows]:
        """Each ``(block, header_line)`` read, in order."""
        if self._pool is None:
            for block, header_line in blocks:
                yield read_block(block, self._layout, self._recognisers, header_line=header_line)
            return
        yield from self._pool.ordered(_read, blocks)
