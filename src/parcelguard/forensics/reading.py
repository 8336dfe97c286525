"""Reading a leaked file as rows of text cells, whatever shape it was sold in.

Text files are read in blocks of whole lines, transcoded to UTF-8 on the way, and split into
cells by Polars, so that ten million lines never become ten million Python objects. A line
longer than the limit is skipped with its line number while it streams past, never held
whole: a file that is one 2 GB line costs one block of memory. Spreadsheets are read with
python-calamine, every sheet, after the zip container has been checked for a bomb.

Nothing here decides what a cell means; that is :mod:`parcelguard.forensics.classify`.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import BinaryIO

import numpy as np
import polars as pl
import pyarrow as pa

from parcelguard.core.errors import BadInput
from parcelguard.forensics.decoding import (
    REPLACEMENT,
    EncodingDecision,
    Utf8Transcoder,
    read_samples,
)

LINE = "line"
TEXT = "text"
NFIELDS = "nfields"

_ZIP_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SPACES = "spaces"
_WHOLE_LINE = "none"
_DELIMITERS = (",", "\t", "|", ";", _SPACES)
_DELIMITER_NAMES = {
    ",": "comma",
    "\t": "tab",
    "|": "pipe",
    ";": "semicolon",
    _SPACES: "spaces",
    _WHOLE_LINE: "none",
}
MIN_CONSISTENCY = 0.3  # a ragged sample still has a clear most-common cell count
_UNIT = "\x1f"  # what runs of spaces become before splitting: never in a sold file's text


def field(index: int) -> str:
    """The name of the ``index``-th cell column of a rows frame."""
    return f"f{index}"


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """Limits that keep a hostile file from taking the machine; tests lower them."""

    max_line_bytes: int = 64 * 1024
    block_bytes: int = 16 * 1024 * 1024
    max_unzipped_bytes: int = 1024 * 1024 * 1024
    max_zip_ratio: float = 200.0
    sample_lines: int = 2_000


@dataclass(frozen=True, slots=True)
class Dialect:
    """How a text file's lines split into cells: the delimiter and whether cells are quoted."""

    delimiter: str
    quoted: bool
    columns: int
    consistency: float

    @property
    def name(self) -> str:
        return _DELIMITER_NAMES[self.delimiter]

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "quoted": self.quoted,
            "columns": self.columns,
            "consistency": round(self.consistency, 3),
        }


def file_kind(path: Path, head: bytes) -> str:
    """``xlsx``, ``xls`` or ``text``, from the first bytes, not from the name (names lie)."""
    if not head:
        raise BadInput(f"{path}: empty")
    if head.startswith(_ZIP_MAGIC):
        return "xlsx"
    if head.startswith(_OLE2_MAGIC):
        return "xls"
    return "text"


# -- text: blocks of whole lines ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineBlock:
    """Whole lines of UTF-8 (each ending in ``\\n`` unless ``at_end``), numbered from ``first_line``."""

    data: bytes
    first_line: int
    at_end: bool


@dataclass(frozen=True, slots=True)
class LongLine:
    """A line longer than the limit, skipped as it streamed past."""

    line: int


def iter_line_blocks(
    handle: BinaryIO,
    transcoder: Utf8Transcoder,
    limits: ReadLimits,
    progress: Callable[[int], None] | None = None,
) -> Iterator[LineBlock | LongLine]:
    """Blocks of whole lines in file order; a too-long line is a :class:`LongLine` between them.

    The partial line carried from one block to the next is never longer than the limit:
    once it is, it is dropped and the reader skips to the next line break.
    """
    carry = b""
    line_no = 1
    skipping = False
    while True:
        raw = handle.read(limits.block_bytes)
        final = not raw
        piece = transcoder.feed(raw, final=final)
        if progress is not None and raw:
            progress(len(raw))
        if skipping:
            cut = piece.find(b"\n")
            if cut < 0:
                if final:
                    yield LongLine(line_no)
                    return
                continue
            yield LongLine(line_no)
            line_no += 1
            skipping = False
            piece = piece[cut + 1 :]
        data = carry + piece if carry else piece
        end = data.rfind(b"\n")
        if final:
            if data:
                if len(data) > limits.max_line_bytes and end < 0:
                    yield LongLine(line_no)
                else:
                    yield LineBlock(data, line_no, at_end=True)
            return
        if end < 0:
            carry = data
        else:
            block = data[: end + 1]
            carry = data[end + 1 :]
            yield LineBlock(block, line_no, at_end=False)
            line_no += block.count(b"\n")
        if len(carry) > limits.max_line_bytes:
            carry = b""
            skipping = True


def lines_frame(block: LineBlock) -> pl.DataFrame:
    """The block's lines as a frame (``line``, ``text``) without copying them one by one.

    Line offsets come from numpy over the bytes and become an Arrow string array over the
    same buffer; only the line breaks are then stripped.
    """
    data = block.data
    if not data:
        return pl.DataFrame(schema={LINE: pl.Int64, TEXT: pl.String})
    view = np.frombuffer(data, dtype=np.uint8)
    breaks = np.flatnonzero(view == 10)
    ends = breaks + 1
    if not data.endswith(b"\n"):
        ends = np.append(ends, len(data))
    offsets = np.empty(len(ends) + 1, dtype=np.int64)
    offsets[0] = 0
    offsets[1:] = ends
    array = pa.LargeStringArray.from_buffers(
        len(ends), pa.py_buffer(offsets.tobytes()), pa.py_buffer(data)
    )
    text = pl.Series(TEXT, pl.from_arrow(array)).str.strip_suffix("\n").str.strip_suffix("\r")
    lines = pl.int_range(block.first_line, block.first_line + len(ends), dtype=pl.Int64, eager=True)
    return pl.DataFrame({LINE: lines, TEXT: text})


def sample_text_lines(
    handle: BinaryIO, size: int, decision: EncodingDecision, limits: ReadLimits
) -> list[str]:
    """Up to ``limits.sample_lines`` lines: the head first, then lines from across the file.

    Head lines come first so that the header, if any, is line one of the sample. Middle
    samples start and end at line breaks, so no line is cut. Blank lines are left out.
    """
    samples = read_samples(handle, size, count=9)
    wanted = limits.sample_lines
    per_block = max(1, wanted // (2 * max(1, len(samples) - 1)))
    out: list[str] = []
    for k, raw in enumerate(samples):
        skip = decision.bom_bytes if k == 0 else 0
        text = raw[skip:].decode(decision.codec, "replace")
        lines = text.splitlines()
        if k > 0:
            lines = lines[1:-1]  # the first and last may be cut
        elif len(samples) > 1:
            lines = lines[:-1]
        # Blank lines are no sample (a file may open with thousands of them), and a header
        # stays the first line of the sample without them.
        lines = [
            line
            for line in lines
            if line.strip(WHITE_SPACE) and len(line.encode()) <= limits.max_line_bytes
        ]
        out.extend(lines[: wanted // 2] if k == 0 else lines[:per_block])
    return out[:wanted]


# What Polars' ``str.strip_chars()`` strips (Unicode White_Space), which decides what a blank
# line is when the file is read; Python's ``str.strip`` also strips \x1c-\x1f, so the sample
# uses this set to agree with the read.
WHITE_SPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)


# -- text: delimiter and cells --------------------------------------------------------------


def detect_dialect(lines: list[str]) -> Dialect:
    """The delimiter whose cell count is most consistent over the sample, with the most cells.

    Candidates: comma, tab, pipe, semicolon, runs of spaces. A line of a single cell for
    every candidate (free text) gives the ``none`` dialect: the whole line is one cell.
    """
    body = [line for line in lines if line.strip()]
    if not body:
        return Dialect(_WHOLE_LINE, quoted=False, columns=1, consistency=1.0)
    quoted = any('"' in line for line in body)
    best: Dialect | None = None
    for delimiter in _DELIMITERS:
        counts = [_count_cells(line, delimiter, quoted) for line in body]
        mode, hits = Counter(counts).most_common(1)[0]
        consistency = hits / len(counts)
        if mode < 2 or consistency < MIN_CONSISTENCY:
            continue
        # Prefer a real delimiter over spaces; among equals, consistency, then more columns.
        rank = (delimiter != _SPACES, round(consistency, 1), mode)
        if best is None or rank > (
            best.delimiter != _SPACES,
            round(best.consistency, 1),
            best.columns,
        ):
            best = Dialect(delimiter, quoted, mode, consistency)
    if best is None:
        return Dialect(_WHOLE_LINE, quoted=False, columns=1, consistency=1.0)
    return best


def _count_cells(line: str, delimiter: str, quoted: bool) -> int:
    if delimiter == _SPACES:
        return len(line.split())
    if quoted:
        return len(next(csv.reader(io.StringIO(line), delimiter=delimiter), []) or [""])
    return line.count(delimiter) + 1


def split_cells(
    lines: pl.DataFrame, dialect: Dialect, needed: Sequence[int] | None = None
) -> pl.DataFrame:
    """Add ``nfields`` and the cells ``f0``..``f{n-1}`` (trimmed, empty as null) to ``lines``.

    Lines whose quotes hold a delimiter are split by a CSV regex; all other lines by a plain
    split, which is ten times faster. Only the ``needed`` cells are made (all by default):
    a column nobody reads costs nothing.
    """
    wanted = range(dialect.columns) if needed is None else sorted(set(needed))
    text = pl.col(TEXT)
    if dialect.delimiter == _WHOLE_LINE:
        return _cells(lines.with_columns(pl.concat_list(text).alias("_parts")), wanted, False)
    if dialect.delimiter == _SPACES:
        parts = text.str.strip_chars().str.replace_all(r"\s+", _UNIT).str.split(_UNIT)
        return _cells(lines.with_columns(parts.alias("_parts")), wanted, False)
    delimiter = dialect.delimiter
    if not dialect.quoted:
        return _cells(lines.with_columns(text.str.split(delimiter).alias("_parts")), wanted, False)
    d = re.escape(delimiter)
    needs_regex = text.str.contains(f'(?:^|{d})"[^"]*{d}')
    flagged = lines.with_columns(needs_regex.alias("_q"))
    simple = flagged.filter(~pl.col("_q")).drop("_q")
    hard = flagged.filter(pl.col("_q")).drop("_q")
    simple = simple.with_columns(text.str.split(delimiter).alias("_parts"))
    if hard.is_empty():
        return _cells(simple, wanted, True)
    pattern = f'(?:^|{d})(?:"(?:[^"]|"")*"|[^{d}]*)'
    hard = hard.with_columns(
        text.str.extract_all(pattern)
        .list.eval(pl.element().str.strip_prefix(delimiter))
        .alias("_parts")
    )
    return pl.concat([_cells(simple, wanted, True), _cells(hard, wanted, True)])


def _cells(frame: pl.DataFrame, wanted: Iterable[int], quoted: bool) -> pl.DataFrame:
    parts = pl.col("_parts")
    cells = [_clean(parts.list.get(i, null_on_oob=True), quoted).alias(field(i)) for i in wanted]
    return frame.with_columns(parts.list.len().cast(pl.Int32).alias(NFIELDS), *cells).drop("_parts")


def _clean(cell: pl.Expr, quoted: bool) -> pl.Expr:
    """Trim, unquote (``"a""b"`` is ``a"b``), and make an empty cell null.

    Quotes are stripped from both ends rather than matched in pairs: ten times cheaper, and
    no phone, ID number, name or address starts or ends with a quote of its own.
    """
    if quoted:
        cell = cell.str.strip_chars(' \t"').str.replace_all('""', '"', literal=True)
    else:
        cell = cell.str.strip_chars()
    return pl.when(cell == "").then(None).otherwise(cell)


def damaged(expr: pl.Expr) -> pl.Expr:
    """A cell or line that holds bytes the encoding could not decode."""
    return expr.str.contains(REPLACEMENT, literal=True)


# -- spreadsheets ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sheet:
    """One sheet's cells as text: ``line`` is the 1-based sheet row, ``f0``.. the columns."""

    name: str
    rows: pl.DataFrame
    columns: int


def check_zip(path: Path, limits: ReadLimits) -> None:
    """Refuse a zip bomb before any spreadsheet reader inflates it.

    The declared sizes and ratios are checked first (cheap); then every member is inflated
    in a stream, counting, so a member that lies about its size is caught at the limit.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            names = {info.filename for info in infos}
            if "xl/workbook.xml" not in names and "[Content_Types].xml" not in names:
                raise BadInput(f"{path}: a zip archive, not an XLSX spreadsheet")
            declared = sum(info.file_size for info in infos)
            if declared > limits.max_unzipped_bytes:
                raise BadInput(
                    f"{path}: refused as a zip bomb: it declares {declared:,} bytes uncompressed, "
                    f"over the limit of {limits.max_unzipped_bytes:,}"
                )
            for info in infos:
                ratio = info.file_size / max(info.compress_size, 1)
                if info.file_size > 1024 * 1024 and ratio > limits.max_zip_ratio:
                    raise BadInput(
                        f"{path}: refused as a zip bomb: member {info.filename!r} inflates "
                        f"{ratio:,.0f} times (limit {limits.max_zip_ratio:,.0f})"
                    )
            inflated = 0
            for info in infos:
                with archive.open(info) as member:
                    while chunk := member.read(1024 * 1024):
                        inflated += len(chunk)
                        if inflated > limits.max_unzipped_bytes:
                            raise BadInput(
                                f"{path}: refused as a zip bomb: it inflates past "
                                f"{limits.max_unzipped_bytes:,} bytes"
                            )
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as exc:
        raise BadInput(f"{path}: not a readable spreadsheet (broken zip: {exc})") from None


def read_sheets(path: Path, kind: str, limits: ReadLimits) -> list[Sheet]:
    """Every sheet of an XLSX or XLS file, cells as text (numbers without a trailing ``.0``)."""
    from python_calamine import CalamineError, CalamineWorkbook

    if kind == "xlsx":
        check_zip(path, limits)
    try:
        workbook = CalamineWorkbook.from_path(str(path))
    except (CalamineError, ValueError, OSError) as exc:
        raise BadInput(f"{path}: not a readable spreadsheet ({type(exc).__name__})") from None
    sheets: list[Sheet] = []
    try:
        for name in workbook.sheet_names:
            try:
                values = workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
            except (CalamineError, ValueError) as exc:
                raise BadInput(
                    f"{path}: sheet {name!r} is unreadable ({type(exc).__name__})"
                ) from None
            sheets.append(_sheet(name, values))
    finally:
        workbook.close()
    return sheets


def _sheet(name: str, values: Sequence[Sequence[object]]) -> Sheet:
    width = max((len(row) for row in values), default=0)
    columns: list[list[str | None]] = [[] for _ in range(width)]
    lines: list[int] = []
    for number, row in enumerate(values, start=1):
        texts = [_cell_text(v) for v in row]
        if not any(texts):
            continue
        lines.append(number)
        for i in range(width):
            columns[i].append(texts[i] if i < len(texts) else None)
    data: dict[str, object] = {LINE: pl.Series(LINE, lines, dtype=pl.Int64)}
    for i, cells in enumerate(columns):
        data[field(i)] = pl.Series(field(i), cells, dtype=pl.String)
    frame = pl.DataFrame(data).with_columns(pl.lit(width, dtype=pl.Int32).alias(NFIELDS))
    text = pl.concat_str([pl.col(field(i)) for i in range(width)], separator=" ", ignore_nulls=True)
    frame = (
        frame.with_columns(text.alias(TEXT))
        if width
        else frame.with_columns(pl.lit("").alias(TEXT))
    )
    return Sheet(name=name, rows=frame, columns=width)


def _cell_text(value: object) -> str | None:
    """A cell as text: a phone typed as a number comes back as 11 digits, not ``1.38e10``."""
    text: str
    if value is None:
        return None
    if isinstance(value, bool):
        text = "TRUE" if value else "FALSE"
    elif isinstance(value, float):
        text = str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    elif isinstance(value, datetime | date | time):
        text = value.isoformat()
    else:
        text = str(value).strip()
    return text or None
