"""``ingest_file``: a leaked file in, its distinct persons and an honest account of it out.

The steps, each in its own module: decide the encoding (:mod:`.decoding`), read lines or
sheets (:mod:`.reading`), classify the columns on a sample (:mod:`.classify`), normalise
every row and deduplicate into persons (:mod:`.persons`). The report says what was read,
how it was decided, and what was skipped and why, so the counts can be defended: every data
line is either part of a record or rejected with one reason.

A text file streams block by block; only the canonical values of rows that carry an
identifier are kept until the end, for deduplication, and they never leave memory except
as the blind-indexed persons table.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import polars as pl
import pyarrow as pa

from parcelguard.core.clock import utc_now
from parcelguard.core.errors import BadInput
from parcelguard.forensics.blocks import BlockRows, TextLayout, first_text_line, tallied
from parcelguard.forensics.case import CaseDir
from parcelguard.forensics.classify import Classification, ColumnClass, classify
from parcelguard.forensics.decoding import (
    Utf8Transcoder,
    detect_encoding,
    read_samples,
)
from parcelguard.forensics.hashers import Hashers
from parcelguard.forensics.persons import (
    COMPACT_SCHEMA,
    LINE_TOO_LONG,
    REASON,
    REASONS,
    ROW_COLUMNS,
    UNTRUE,
    PersonCounts,
    RowPlan,
    build_persons,
    normalise_rows,
)
from parcelguard.forensics.reading import (
    LINE,
    TEXT,
    Dialect,
    LineBlock,
    LongLine,
    ReadLimits,
    Sheet,
    detect_dialect,
    file_kind,
    iter_line_blocks,
    read_sheets,
    sample_text_lines,
    split_cells,
)
from parcelguard.forensics.reading import (
    field as cell_field,
)
from parcelguard.forensics.workers import BlockReaders, default_workers
from parcelguard.vault.blind_index import BlindIndexer

if TYPE_CHECKING:
    from parcelguard.forensics.recognisers.base import Recogniser

Progress = Callable[[int, int], None]
_ORDER_PER_SHEET = 1 << 32  # rows of sheet k are ordered after every row of sheet k-1


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What ingest read and decided; ``as_dict`` is the JSON of ``leak ingest --json``.

    No field holds plaintext: headers are masked when they look like data, and everything
    else is counts, names of encodings and roles, and the file's digest.
    """

    source: dict[str, object]
    format: str
    encoding: dict[str, object]
    delimiter: str | None
    dialect: dict[str, object] | None
    header: bool
    header_reason: str
    columns: list[dict[str, object]]
    sheets: list[dict[str, object]]
    rows_read: int
    blank_lines: int
    by_reason: dict[str, int]
    persons: dict[str, int]
    replaced_characters: int
    first_seen: datetime
    first_seen_given: bool
    seconds: float
    case: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def rows_rejected(self) -> int:
        return sum(self.by_reason.values())

    @property
    def person_records(self) -> int:
        return self.persons["person_records"]

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "format": self.format,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "dialect": self.dialect,
            "header": self.header,
            "header_reason": self.header_reason,
            "columns": self.columns,
            "sheets": self.sheets,
            "rows_read": self.rows_read,
            "blank_lines": self.blank_lines,
            "rows_rejected": {"total": self.rows_rejected, "by_reason": dict(self.by_reason)},
            "rows_kept": self.persons["rows_kept"],
            "person_records": self.persons["person_records"],
            "virtual_number_records": self.persons["virtual_number_records"],
            "duplicates_excluded": self.persons["duplicates_excluded"],
            "untrue_excluded": sum(self.by_reason.get(r, 0) for r in UNTRUE),
            "persons": self.persons,
            "replaced_characters": self.replaced_characters,
            "first_seen": self.first_seen.isoformat(),
            "first_seen_given": self.first_seen_given,
            "seconds": round(self.seconds, 3),
            "case": self.case,
            "notes": self.notes,
        }


@dataclass
class _Tally:
    """Counts gathered while streaming, and the kept rows' values."""

    rows_read: int = 0
    blank_lines: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    kept: list[pl.DataFrame] = field(default_factory=list)

    def add(self, rows: pl.DataFrame) -> None:
        self.merge(tallied(rows))

    def merge(self, block: BlockRows) -> None:
        self.rows_read += block.rows_read
        self.blank_lines += block.blank_lines
        self.reasons.update(block.reasons)
        if block.kept.height:
            self.kept.append(block.kept)

    def kept_rows(self) -> pl.DataFrame:
        if not self.kept:
            return pl.DataFrame(schema=COMPACT_SCHEMA)
        kept, self.kept = self.kept, []  # the blocks go as the whole is made
        return pl.concat(kept, rechunk=False)


def default_recognisers_for_ingest() -> Sequence[Recogniser]:
    from parcelguard.forensics.recognisers import default_recognisers

    return default_recognisers()


def ingest_file(
    path: Path,
    *,
    indexer: BlindIndexer,
    case: CaseDir | None = None,
    first_seen: datetime | None = None,
    progress: Progress | None = None,
    recognisers: Sequence[Recogniser] | None = None,
    limits: ReadLimits | None = None,
    workers: int | None = None,
) -> IngestReport:
    """Ingest ``path``; with a ``case``, write its ``persons.parquet`` and ``case.json``.

    ``workers`` is how many worker processes read a text file's blocks and index its
    persons (0: all in this process); by default one per usable CPU for a file of several
    blocks, none for a smaller one. The outcome is the same either way.
    """
    started = time.perf_counter()
    if workers is not None and workers < 0:
        raise ValueError(f"ingest_file: workers must be 0 or more, not {workers}")
    limits = limits or ReadLimits()
    chosen = (
        list(recognisers) if recognisers is not None else list(default_recognisers_for_ingest())
    )
    by_role: dict[str, Recogniser] = {r.role: r for r in chosen}
    if not path.is_file():
        raise BadInput(f"{path}: no such file")
    size = path.stat().st_size
    if size == 0:
        raise BadInput(f"{path}: empty")
    with path.open("rb") as handle:
        kind = file_kind(path, handle.read(8))
    try:
        if kind == "text":
            outcome = _ingest_text(path, size, chosen, limits, progress, indexer, workers)
        else:
            outcome = _ingest_sheets(path, size, kind, chosen, by_role, limits, progress, indexer)
    finally:
        for recogniser in chosen:  # what a recogniser remembered of this file (plaintext)
            forget = getattr(recogniser, "forget", None)
            if callable(forget):
                forget()
    tally, table, counts = outcome.tally, outcome.table, outcome.counts
    by_reason = {reason: tally.reasons.get(reason, 0) for reason in REASONS}
    moment = first_seen or utc_now()
    report = IngestReport(
        source={"file_name": path.name, "bytes": size, "sha256": outcome.sha256},
        format=outcome.format,
        encoding=outcome.encoding,
        delimiter=outcome.dialect.name if outcome.dialect is not None else None,
        dialect=outcome.dialect.as_dict() if outcome.dialect is not None else None,
        header=outcome.header,
        header_reason=outcome.header_reason,
        columns=[c.as_dict(chosen) for c in outcome.columns],
        sheets=outcome.sheets,
        rows_read=tally.rows_read,
        blank_lines=tally.blank_lines,
        by_reason=by_reason,
        persons=counts.as_dict(),
        replaced_characters=outcome.replaced,
        first_seen=moment,
        first_seen_given=first_seen is not None,
        seconds=time.perf_counter() - started,
        case=case.name if case is not None else None,
        notes=outcome.notes,
    )
    if case is not None:
        _refuse_another_file(case, outcome.sha256)
        case.write_persons(table)
        case.write_json(case.case_file, report.as_dict())
    return report


def _refuse_another_file(case: CaseDir, sha256: str) -> None:
    """A case holds one file: ingesting another into it would lose the first one's case."""
    if not case.exists():
        return
    source = case.read_json(case.case_file).get("source")
    held = source.get("sha256") if isinstance(source, dict) else None
    if held != sha256:
        name = source.get("file_name") if isinstance(source, dict) else None
        raise BadInput(
            f"case {case.name!r}: already holds another file ({name}); "
            "choose another --case for this one"
        )


@dataclass
class _Outcome:
    format: str
    encoding: dict[str, object]
    dialect: Dialect | None
    header: bool
    header_reason: str
    columns: list[ColumnClass]
    sheets: list[dict[str, object]]
    tally: _Tally
    table: pa.Table
    counts: PersonCounts
    sha256: str
    replaced: int
    notes: list[str]


class _HashingReader:
    """A file read through once: SHA-256 and progress come from the same bytes."""

    def __init__(self, handle: BinaryIO, size: int, progress: Progress | None) -> None:
        self._handle = handle
        self._size = size
        self._progress = progress
        self._done = 0
        self.digest = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self._handle.read(n)
        self.digest.update(data)
        self._done += len(data)
        if self._progress is not None and data:
            self._progress(self._done, self._size)
        return data


def _ingest_text(
    path: Path,
    size: int,
    recognisers: Sequence[Recogniser],
    limits: ReadLimits,
    progress: Progress | None,
    indexer: BlindIndexer,
    workers: int | None,
) -> _Outcome:
    with path.open("rb") as handle:
        decision = detect_encoding(read_samples(handle, size), source=str(path))
        sample = sample_text_lines(handle, size, decision, limits)
        dialect = detect_dialect(sample)
        classification = _classify_lines(sample, dialect, recognisers)
        plan = RowPlan.of(classification, dialect.columns, ragged_possible=dialect.columns > 1)
        layout = TextLayout(dialect, plan, limits.max_line_bytes)
        count = default_workers(size, limits.block_bytes) if workers is None else workers
        handle.seek(0)
        reader = _HashingReader(handle, size, progress)
        transcoder = Utf8Transcoder(decision)
        tally = _Tally()
        with BlockReaders(count, layout=layout, recognisers=recognisers) as readers:
            blocks = _blocks_with_header(
                iter_line_blocks(reader, transcoder, limits),  # type: ignore[arg-type]
                tally,
                header_pending=classification.header,
            )
            for rows in readers.read_blocks(blocks):
                tally.merge(rows)
        # The block workers have gone; the hashers start while the persons are linked.
        with Hashers(count, indexer) as hashers:
            table, counts = build_persons(tally.kept_rows(), indexer, hashers.digests)
    notes = []
    if transcoder.replaced:
        notes.append(
            f"{transcoder.replaced:,} byte sequence(s) did not decode as {decision.name}; "
            "the cells holding them were not read"
        )
    if count:
        notes.append(f"read and indexed in {count} worker processes")
    return _Outcome(
        format="csv" if dialect.columns > 1 else "txt",
        encoding=decision.as_dict(),
        dialect=dialect,
        header=classification.header,
        header_reason=classification.header_reason,
        columns=list(classification.columns),
        sheets=[],
        tally=tally,
        table=table,
        counts=counts,
        sha256=reader.digest.hexdigest(),
        replaced=transcoder.replaced,
        notes=notes,
    )


def _blocks_with_header(
    items: Iterable[LineBlock | LongLine], tally: _Tally, *, header_pending: bool
) -> Iterator[tuple[LineBlock, int | None]]:
    """Blocks paired with the header's line number (in the block that holds it).

    The header is the file's first non-blank line, so it is found here, before the block
    goes to a worker; a skipped too-long line is counted as it streams past.
    """
    for item in items:
        if not isinstance(item, LineBlock):
            tally.add(_long_line_rows(item.line))
            continue
        header_line = None
        if header_pending:
            header_line = first_text_line(item)
            header_pending = header_line is None
        yield item, header_line


def _classify_lines(
    sample: list[str], dialect: Dialect, recognisers: Sequence[Recogniser]
) -> Classification:
    body = [line for line in sample if line.strip()]
    frame = pl.DataFrame(
        {LINE: list(range(1, len(body) + 1)), TEXT: body},
        schema={LINE: pl.Int64, TEXT: pl.String},
    )
    cells = split_cells(frame, dialect).sort(LINE)
    names = [cell_field(i) for i in range(dialect.columns)]
    rows = [list(row) for row in cells.select(names).iter_rows()]
    return classify(rows, recognisers, width=dialect.columns)


def _long_line_rows(line: int) -> pl.DataFrame:
    row: dict[str, object] = dict.fromkeys(ROW_COLUMNS)
    row.update({"line": line, "order": line, REASON: LINE_TOO_LONG})
    return pl.DataFrame(
        [row],
        schema={
            **dict.fromkeys(ROW_COLUMNS, pl.String),
            "line": pl.Int64,
            "order": pl.Int64,
        },
    ).select(ROW_COLUMNS)


def _ingest_sheets(
    path: Path,
    size: int,
    kind: str,
    recognisers: Sequence[Recogniser],
    by_role: Mapping[str, Recogniser],
    limits: ReadLimits,
    progress: Progress | None,
    indexer: BlindIndexer,
) -> _Outcome:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    sheets = read_sheets(path, kind, limits)
    tally = _Tally()
    columns: list[ColumnClass] = []
    reports: list[dict[str, object]] = []
    headers: list[str] = []
    for k, sheet in enumerate(sheets):
        before = tally.rows_read
        classification = _classify_sheet(sheet, recognisers, limits)
        rows = sheet.rows.slice(1) if classification.header else sheet.rows
        plan = RowPlan.of(classification, sheet.columns, ragged_possible=False)
        if sheet.columns:
            tally.add(normalise_rows(rows, plan, by_role, order_offset=k * _ORDER_PER_SHEET))
        columns.extend(classification.columns)
        headers.append(f"{sheet.name}: {classification.header_reason}")
        reports.append(
            {
                "name": sheet.name,
                "rows_read": tally.rows_read - before,
                "columns": sheet.columns,
                "header": classification.header,
            }
        )
        if progress is not None:
            progress(size * (k + 1) // max(1, len(sheets)), size)
    header = any(bool(r["header"]) for r in reports)
    table, counts = build_persons(tally.kept_rows(), indexer)
    return _Outcome(
        format=kind,
        encoding=_spreadsheet_encoding(kind),
        dialect=None,
        header=header,
        header_reason="; ".join(headers) or "no sheets",
        columns=columns,
        sheets=reports,
        tally=tally,
        table=table,
        counts=counts,
        sha256=digest.hexdigest(),
        replaced=0,
        notes=[],
    )


def _classify_sheet(
    sheet: Sheet, recognisers: Sequence[Recogniser], limits: ReadLimits
) -> Classification:
    names = [cell_field(i) for i in range(sheet.columns)]
    height = sheet.rows.height
    wanted = limits.sample_lines
    if height <= wanted:
        picked = sheet.rows
    else:
        head = sheet.rows.head(wanted // 2)
        step = max(1, (height - wanted // 2) // (wanted // 2))
        rest = sheet.rows.slice(wanted // 2).gather_every(step).head(wanted - wanted // 2)
        picked = pl.concat([head, rest])
    rows = [list(row) for row in picked.select(names).iter_rows()]
    return classify(rows, recognisers, width=sheet.columns, sheet=sheet.name)


def _spreadsheet_encoding(kind: str) -> dict[str, object]:
    evidence = (
        "XLSX stores text as Unicode (XML); no decoding to decide"
        if kind == "xlsx"
        else "XLS stores text as UTF-16 or in its declared code page; calamine decodes it"
    )
    return {
        "name": "unicode" if kind == "xlsx" else "xls",
        "decision": "spreadsheet",
        "confidence": 1.0,
        "bom": False,
        "evidence": evidence,
    }
