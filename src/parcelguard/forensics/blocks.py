"""One block of a text file's lines, from bytes to its kept rows and its counts.

This is the step of a text ingest that scales with the file, so it is a pure function of
the block and of what was decided once on the sample (:class:`TextLayout`): the same
function runs in the ingest's own process for a small file and in worker processes for a
large one (:mod:`.workers`), and both give the same rows and counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from parcelguard.forensics.decoding import REPLACEMENT
from parcelguard.forensics.persons import (
    COMPACT_SCHEMA,
    LINE_TOO_LONG,
    REASON,
    RowPlan,
    compact,
    normalise_rows,
)
from parcelguard.forensics.reading import LINE, TEXT, Dialect, LineBlock, lines_frame, split_cells

if TYPE_CHECKING:
    from parcelguard.forensics.recognisers.base import Recogniser

_BLANK = pl.col(TEXT).str.strip_chars() == ""


@dataclass(frozen=True, slots=True)
class TextLayout:
    """What every block of one file is read with, decided once on the sample."""

    dialect: Dialect
    plan: RowPlan
    max_line_bytes: int


@dataclass(frozen=True, slots=True)
class BlockRows:
    """A block's outcome: its counts, and its kept rows compacted and in file order."""

    rows_read: int
    blank_lines: int
    reasons: dict[str, int]
    kept: pl.DataFrame

    @classmethod
    def empty(cls) -> BlockRows:
        return cls(0, 0, {}, pl.DataFrame(schema=COMPACT_SCHEMA))


def first_text_line(block: LineBlock) -> int | None:
    """The number of the block's first non-blank line (the header, when one is pending)."""
    lines = lines_frame(block).filter(~_BLANK)
    return None if lines.is_empty() else int(lines.get_column(LINE)[0])


def read_block(
    block: LineBlock,
    layout: TextLayout,
    recognisers: Mapping[str, Recogniser],
    *,
    header_line: int | None = None,
) -> BlockRows:
    """The block's rows: blank lines counted, ``header_line`` dropped, every other line read.

    A line over ``max_line_bytes`` is rejected whole (``line_too_long``); the file's last
    line, when it has no line break, is the one that may have been cut.
    """
    lines = lines_frame(block)
    blank_lines = lines.filter(_BLANK).height
    lines = lines.filter(~_BLANK)
    if header_line is not None:
        lines = lines.filter(pl.col(LINE) != header_line)
    too_long = pl.col(TEXT).str.len_bytes() > layout.max_line_bytes
    long_lines = lines.filter(too_long).height
    lines = lines.filter(~too_long)
    unterminated = None
    if block.at_end and not block.data.endswith(b"\n"):
        unterminated = block.first_line + block.data.count(b"\n")
    cells = split_cells(lines, layout.dialect, layout.plan.needed)
    rows = normalise_rows(
        cells,
        layout.plan,
        recognisers,
        unterminated_line=unterminated,
        damaged_possible=REPLACEMENT.encode() in block.data,
    )
    counted = tallied(rows)
    reasons = dict(counted.reasons)
    if long_lines:
        reasons[LINE_TOO_LONG] = reasons.get(LINE_TOO_LONG, 0) + long_lines
    return BlockRows(counted.rows_read + long_lines, blank_lines, reasons, counted.kept)


def tallied(rows: pl.DataFrame) -> BlockRows:
    """Rows of :func:`normalise_rows` as counts by reason and kept rows, compacted in order."""
    reasons: dict[str, int] = {}
    for reason, n in rows.group_by(REASON).len().iter_rows():
        if reason is not None:
            reasons[reason] = n
    kept = compact(rows.filter(pl.col(REASON).is_null())).sort("order")
    return BlockRows(rows.height, 0, reasons, kept)
