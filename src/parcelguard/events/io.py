"""Read and write a folder of event tables: the one place that knows the file formats.

A folder holds one file per table, ``<table>.parquet`` or ``<table>.csv``. Reading converts
every table to its schema (:mod:`parcelguard.events.schema`) whichever format it came in,
so detectors never see a difference between the two. Writing is deterministic (the same
tables give byte-identical files, so a simulated world can be checked into a test by its
hash) and atomic (a crash never leaves a half-written table under its final name).
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from parcelguard.core.errors import BadInput, Problem
from parcelguard.events._convert import column_problems, conform
from parcelguard.events.schema import TABLES, TIMEZONE, Table

Format = Literal["parquet", "csv"]
FORMATS: tuple[Format, ...] = get_args(Format)

ROW_GROUP_ROWS = 1 << 20
"""Rows per Parquet row group: fixed, so the file layout depends on the data alone."""

# Every option that shapes the bytes is spelled out, so a change of pyarrow's defaults
# cannot change the files. created_by still names the pyarrow version: determinism holds
# for one environment, which is what reproducible simulation runs need.
_PARQUET_OPTIONS: dict[str, object] = {
    "version": "2.6",
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,  # min/max of each row group: a function of the data only
    "data_page_version": "1.0",
    "write_page_index": False,
    "write_page_checksum": False,
    "store_schema": True,  # keeps the +08:00 zone and nothing else: the schema has no metadata
    "use_content_defined_chunking": False,
}
_CSV_READ = pacsv.ReadOptions(block_size=1 << 23, use_threads=True)
_CSV_PARSE = pacsv.ParseOptions(newlines_in_values=True)  # the writer quotes such values
_MAX_HEADER_BYTES = 1 << 16


@dataclass(frozen=True, slots=True)
class LoadedTable:
    """What reading one table found: its file, the converted table, and any problems.

    ``path`` is None when the folder has no file for the table (or two); ``table`` is None
    when there is no file or it could not be converted.
    """

    name: str
    path: Path | None
    table: pa.Table | None
    problems: tuple[Problem, ...]


class _FileProblem(Exception):
    """A file that cannot be read at all; carries the problems that say why."""

    def __init__(self, *problems: Problem) -> None:
        super().__init__(str(problems[0]))
        self.problems = problems


# --- writing ---------------------------------------------------------------------------


def write_folder(folder: Path, tables: Mapping[str, pa.Table], fmt: Format) -> dict[str, int]:
    """Write ``tables`` (any subset of the format's tables) to ``folder``; rows per table.

    Every table is converted to its schema and checked before the first file is written,
    so a bad table leaves the folder as it was. Columns outside the spec are dropped.
    Writing ``<table>.csv`` removes a stale ``<table>.parquet`` and vice versa: a folder with
    both would be ambiguous.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    ready = {name: _conform_for_write(name, tables[name]) for name in _known_names(tables)}
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in ready.items():
        with _atomic(folder / f"{name}.{fmt}") as tmp:
            if fmt == "parquet":
                _write_parquet(tmp, table)
            else:
                _write_csv(tmp, table)
        for other in FORMATS:
            if other != fmt:
                (folder / f"{name}.{other}").unlink(missing_ok=True)
    _fsync_dir(folder)
    return {name: int(table.num_rows) for name, table in ready.items()}


def write_folder_chunks(
    folder: Path, chunks: Iterable[tuple[str, pa.Table]], fmt: Format
) -> dict[str, int]:
    """Stream ``(table, chunk)`` pairs to ``folder``; rows per table.

    For worlds too big to hold: each chunk is converted, checked and written as it comes, so
    memory holds one chunk (plus at most one Parquet row group) per table. Parquet output is
    byte-identical to :func:`write_folder` of the concatenated chunks: rows are regrouped
    into the same fixed row groups. Files appear under their names only when every chunk
    was written; an error leaves the folder as it was.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    folder.mkdir(parents=True, exist_ok=True)
    sinks: dict[str, _ChunkSink] = {}
    try:
        for name, chunk in chunks:
            if name not in TABLES:
                raise ValueError(f"unknown table {name!r}")
            sink = sinks.get(name)
            if sink is None:
                sink = sinks[name] = _ChunkSink(folder / f"{name}.{fmt}", fmt)
            sink.write(_conform_for_write(name, chunk))
        for sink in sinks.values():
            sink.finish()
    except BaseException:
        for sink in sinks.values():
            sink.abandon()
        raise
    for name in sinks:
        for other in FORMATS:
            if other != fmt:
                (folder / f"{name}.{other}").unlink(missing_ok=True)
    _fsync_dir(folder)
    return {name: sink.rows for name, sink in sinks.items()}


class _ChunkSink:
    """One table being streamed to a temporary file beside its final name."""

    def __init__(self, final: Path, fmt: Format) -> None:
        self.final = final
        self.fmt = fmt
        self.tmp = final.with_name(f".{final.name}.{secrets.token_hex(8)}.tmp")
        self.rows = 0
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._parquet: pq.ParquetWriter | None = None
        self._csv: pa.OSFile | None = None

    def write(self, table: pa.Table) -> None:
        self.rows += table.num_rows
        if self.fmt == "csv":
            self._write_csv(table)
            return
        self._pending.append(table)
        self._pending_rows += table.num_rows
        while self._pending_rows >= ROW_GROUP_ROWS:
            self._flush(ROW_GROUP_ROWS)

    def _flush(self, rows: int) -> None:
        block = pa.concat_tables(self._pending)
        group, rest = block.slice(0, rows).combine_chunks(), block.slice(rows)
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(str(self.tmp), group.schema, **_PARQUET_OPTIONS)
        self._parquet.write_table(group, row_group_size=ROW_GROUP_ROWS)
        self._pending = [rest] if rest.num_rows else []
        self._pending_rows = rest.num_rows

    def _write_csv(self, table: pa.Table) -> None:
        if self._csv is None:
            self._csv = pa.OSFile(str(self.tmp), "wb")
            self._csv.write((",".join(table.column_names) + "\n").encode("utf-8"))
        rendered = _render_times(table)
        for quoting in ("none", "needed"):
            buffer = pa.BufferOutputStream()
            options = pacsv.WriteOptions(include_header=False, quoting_style=quoting, eol="\n")
            try:
                pacsv.write_csv(rendered, buffer, options)
            except pa.ArrowInvalid:
                continue
            self._csv.write(buffer.getvalue())
            return

    def finish(self) -> None:
        if self.fmt == "parquet":
            if self._pending_rows:
                self._flush(self._pending_rows)
            if self._parquet is None:  # only empty chunks: a file with the schema and no rows
                schema = self._pending[0].schema
                self._parquet = pq.ParquetWriter(str(self.tmp), schema, **_PARQUET_OPTIONS)
            self._parquet.close()
        elif self._csv is not None:
            self._csv.close()
        _fsync_file(self.tmp)
        os.replace(self.tmp, self.final)

    def abandon(self) -> None:
        for handle in (self._parquet, self._csv):
            if handle is not None:
                with contextlib.suppress(Exception):  # best effort on the way out of an error
                    handle.close()
        self.tmp.unlink(missing_ok=True)


def _conform_for_write(name: str, table: pa.Table) -> pa.Table:
    converted, problems = conform(table, TABLES[name], name)
    if problems or converted is None:
        raise BadInput(f"cannot write table {_first_and_more(problems)}", code=problems[0].code)
    return converted


@contextmanager
def _atomic(final: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; move it into place only once it is complete.

    The temporary name starts with a dot and ends in ``.tmp``, so no reader mistakes it for
    a table; ``os.replace`` within one folder is atomic on POSIX and Windows.
    """
    tmp = final.with_name(f".{final.name}.{secrets.token_hex(8)}.tmp")
    try:
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def _fsync_file(path: Path) -> None:
    with path.open("rb+") as f:
        os.fsync(f.fileno())


def _fsync_dir(folder: Path) -> None:
    """Make the renames durable; some platforms cannot open a folder, which is fine there."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_parquet(path: Path, table: pa.Table) -> None:
    """Write fixed-size row groups, each made contiguous first.

    Combining each row group's chunks makes the bytes independent of how the caller's
    table happens to be chunked, which otherwise decides where data pages are cut.
    """
    with pq.ParquetWriter(str(path), table.schema, **_PARQUET_OPTIONS) as writer:
        for offset in range(0, table.num_rows, ROW_GROUP_ROWS):
            group = table.slice(offset, ROW_GROUP_ROWS).combine_chunks()
            writer.write_table(group, row_group_size=ROW_GROUP_ROWS)


def _write_csv(path: Path, table: pa.Table) -> None:
    """Write UTF-8 CSV with a plain header, ``\\n`` line ends and empty cells for nulls.

    Values go unquoted, so ids and codes read as plain text. Only if some value holds a
    comma, quote or line break does Arrow refuse; the file is then written again with
    quotes where needed. Trying first is free, where scanning every column is not.
    """
    rendered = _render_times(table)
    try:
        _write_csv_quoting(path, rendered, "none")
    except pa.ArrowInvalid:
        _write_csv_quoting(path, rendered, "needed")


def _write_csv_quoting(path: Path, table: pa.Table, quoting: str) -> None:
    options = pacsv.WriteOptions(include_header=False, quoting_style=quoting, eol="\n")
    with pa.OSFile(str(path), "wb") as sink:
        sink.write((",".join(table.column_names) + "\n").encode("utf-8"))
        pacsv.write_csv(table, sink, options)


def _render_times(table: pa.Table) -> pa.Table:
    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):
            table = table.set_column(index, field.name, _iso_times(table.column(index)))
    return table


def _iso_times(times: pa.ChunkedArray) -> pa.ChunkedArray:
    """``2016-10-03T09:15:02+08:00``, with ``.ffffff`` only when the microseconds are not 0.

    That is what Python's ``datetime.isoformat`` gives, so the CSV and the reference
    checker's view of a Parquet file agree. Built from casts rather than ``strftime``,
    which is several times slower on tens of millions of values.
    """
    local = pc.local_timestamp(times)  # wall-clock time in TIMEZONE, the schema's zone
    text = local.cast(pa.string())  # 2016-10-03 09:15:02.000000
    has_fraction = pc.not_equal(local, pc.floor_temporal(local, unit="second"))
    text = pc.if_else(has_fraction, text, pc.utf8_slice_codeunits(text, 0, 19))
    text = pc.utf8_replace_slice(text, 10, 11, "T")
    return pc.binary_join_element_wise(text, TIMEZONE, "")


# --- reading ---------------------------------------------------------------------------


def read_folder(
    folder: Path, tables: Iterable[str] | None = None, *, require_labels: bool = False
) -> dict[str, pa.Table]:
    """Read ``tables`` (default: all) from ``folder``, each converted to its schema.

    The ground truth (``labels``) is read when present and required only when asked for,
    by ``require_labels`` or by naming it in ``tables``; detectors should pass
    ``EVENT_TABLES`` so they never see it. Raises :class:`BadInput` naming the folder or
    file, the column and the row of the first problem found.
    """
    if not folder.is_dir():
        raise BadInput(f"{folder}: not a folder of event tables", code="no_folder")
    result: dict[str, pa.Table] = {}
    for name, required in _wanted(tables, require_labels):
        loaded = load_table(folder, name)
        if loaded.problems:
            raise BadInput(
                f"{folder}{os.sep}{_first_and_more(loaded.problems)}", code=loaded.problems[0].code
            )
        if loaded.table is not None:
            result[name] = loaded.table
        elif required:
            raise BadInput(f"{folder}: no table {name} ({_missing(name)})", code="missing_table")
    return result


def load_table(folder: Path, name: str) -> LoadedTable:
    """Find and read one table, collecting problems instead of raising (for the validator)."""
    spec = TABLES[name]
    paths = [p for p in (folder / f"{name}.{fmt}" for fmt in FORMATS) if p.is_file()]
    if not paths:
        return LoadedTable(name, None, None, ())
    if len(paths) > 1:
        both = Problem(name, "ambiguous_table", f"has both {paths[0].name} and {paths[1].name}")
        return LoadedTable(name, None, None, (both,))
    path = paths[0]
    try:
        raw = _read_csv(path, spec) if path.suffix == ".csv" else _read_parquet(path, spec)
    except _FileProblem as e:
        return LoadedTable(name, path, None, e.problems)
    table, problems = conform(raw, spec, path.name)
    return LoadedTable(name, path, table, tuple(problems))


def _wanted(tables: Iterable[str] | None, require_labels: bool) -> list[tuple[str, bool]]:
    """The tables to read in spec order, each with whether its absence is an error."""
    if isinstance(tables, str):
        raise TypeError("tables must be an iterable of table names, not one string")
    named = set(TABLES) if tables is None else set(_known_names(tables))
    if require_labels:
        named.add("labels")
    explicit = set() if tables is None else named
    return [
        (name, not spec.truth or require_labels or name in explicit)
        for name, spec in TABLES.items()
        if name in named
    ]


def _known_names(names: Iterable[str]) -> list[str]:
    """``names`` in spec order; an unknown name is a programming error, not bad input."""
    given = set(names)
    unknown = sorted(given - set(TABLES))
    if unknown:
        raise ValueError(
            f"unknown table(s) {', '.join(unknown)}; the format has {', '.join(TABLES)}"
        )
    return [name for name in TABLES if name in given]


def _read_csv(path: Path, spec: Table) -> pa.Table:
    """Read the spec's columns as strings; the conversion that follows parses them."""
    problems = column_problems(_csv_header(path), spec, path.name)
    if problems:
        raise _FileProblem(*problems)
    convert = pacsv.ConvertOptions(
        include_columns=list(spec.names),
        column_types={name: pa.string() for name in spec.names},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
        check_utf8=True,
    )
    try:
        return pacsv.read_csv(
            str(path), read_options=_CSV_READ, parse_options=_CSV_PARSE, convert_options=convert
        )
    except (pa.ArrowException, OSError) as e:
        raise _FileProblem(_csv_problem(path, e)) from None


def _csv_header(path: Path) -> list[str]:
    """The header's column names, read ourselves so a missing column is named before parsing."""
    try:
        with path.open("rb") as f:
            first = f.readline(_MAX_HEADER_BYTES)
    except OSError:
        raise _FileProblem(Problem(path.name, "unreadable", "cannot be opened")) from None
    if not first.strip():
        raise _FileProblem(Problem(path.name, "no_header", "has no header row"))
    try:
        line = first.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise _FileProblem(Problem(path.name, "not_utf8", "is not UTF-8 text")) from None
    return next(csv.reader([line]))


def _csv_problem(path: Path, error: Exception) -> Problem:
    """Describe a parse failure without Arrow's message, which quotes the offending row."""
    message = str(error)
    if "UTF8" in message or "UTF-8" in message:
        return Problem(path.name, "not_utf8", "is not UTF-8 text")
    shape = re.search(r"Expected \d+ columns, got \d+", message)
    detail = f": {shape.group(0).lower()} in a row" if shape else ""
    return Problem(path.name, "bad_csv", f"is not well-formed CSV{detail}")


def _read_parquet(path: Path, spec: Table) -> pa.Table:
    try:
        with pq.ParquetFile(str(path)) as parquet:
            problems = column_problems(parquet.schema_arrow.names, spec, path.name)
            if problems:
                raise _FileProblem(*problems)
            return parquet.read(columns=list(spec.names), use_threads=True)
    except (pa.ArrowException, OSError):
        raise _FileProblem(
            Problem(
                path.name, "bad_parquet", "is not a readable Parquet file (truncated or corrupt)"
            )
        ) from None


def _missing(name: str) -> str:
    return " or ".join(f"{name}.{fmt}" for fmt in FORMATS) + " not found"


def _first_and_more(problems: tuple[Problem, ...] | list[Problem]) -> str:
    more = len(problems) - 1
    suffix = f" (and {more} more problem{'s' if more != 1 else ''})" if more else ""
    return f"{problems[0]}{suffix}"
