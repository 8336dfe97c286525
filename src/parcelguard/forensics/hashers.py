"""Blind-index messages hashed in worker processes that hold nothing but the key.

The persons of a large file are indexed after the blocks are read, so the block workers
(each holding Polars, the recognisers' tables and what its blocks left behind) are gone by
then; these workers import only the indexer (with the vault package it lives in) and Arrow,
about 100-130 MB each, so the ingest's peak memory is its own plus little. A slice's messages cross as one Arrow array (two buffers in the pipe) and
its digests come back joined into one ``bytes``. The key crosses once, to each worker as it
starts (``BlindIndexer.unsafe_export_key``); a ``BlindIndexer`` itself refuses to be pickled.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from types import TracebackType

import pyarrow as pa

from parcelguard.forensics.pool import OrderedPool
from parcelguard.vault.blind_index import BlindIndexer


def hash_messages(indexer: BlindIndexer, messages: pa.Array) -> bytes:
    """The joined 16-byte digests of ``messages`` (an Arrow binary array without nulls)."""
    return b"".join(indexer.macs(messages.to_pylist()))


class _Key:
    indexer: BlindIndexer | None = None


def _start(key: bytes) -> None:
    _Key.indexer = BlindIndexer(key)


def _digests(messages: pa.Array) -> bytes:
    if _Key.indexer is None:
        raise RuntimeError("hash worker started without a key")
    return hash_messages(_Key.indexer, messages)


class Hashers:
    """Digests of batches of messages, in order: in ``count`` workers, or here when 0."""

    def __init__(self, count: int, indexer: BlindIndexer) -> None:
        self.count = count
        self._indexer = indexer
        self._pool = (
            OrderedPool(count, _start, (indexer.unsafe_export_key(),)) if count > 0 else None
        )

    def __enter__(self) -> Hashers:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            self._pool.close()

    def digests(self, batches: Iterable[pa.Array]) -> Iterator[bytes]:
        if self._pool is None:
            for messages in batches:
                yield hash_messages(self._indexer, messages)
            return
        yield from self._pool.ordered(_digests, ((batch,) for batch in batches))
