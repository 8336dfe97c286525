"""Check a folder against the exchange format and list every problem, not just the first.

It checks what the reference checker ``validate_events.py`` checks (columns, enumerations,
times with offsets, references between tables, unique event ids) plus what the spec's
types imply (dates, booleans, no empty cell in a column the spec does not mark ``empty``),
with the same conversion :func:`~parcelguard.events.io.read_folder` uses: a folder that
passes here is a folder that reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from parcelguard.core.errors import Problem
from parcelguard.events.io import FORMATS, load_table
from parcelguard.events.schema import REFERENCES, TABLES, Reference


class _Readable(NamedTuple):
    """A table that converted to its schema, with the file name problems will cite."""

    name: str
    file: str
    table: pa.Table


def validate_folder(folder: Path, *, truth: bool = False) -> list[Problem]:
    """Every problem of ``folder``; ``truth`` requires the ground truth (``labels``) too.

    ``where`` is the file (``accesses.csv``) or file and column (``accesses.csv:ts``); a
    table without a file is named by the table. An empty list means the folder is valid.
    """
    if not folder.is_dir():
        return [Problem(str(folder), "no_folder", "is not a folder")]
    loaded = {name: load_table(folder, name) for name in TABLES}
    problems: list[Problem] = []
    for name, found in loaded.items():
        problems += found.problems
        if found.path is None and not found.problems and (truth or not TABLES[name].truth):
            problems.append(Problem(name, "missing_table", _no_file(name)))
    readable = {
        name: _Readable(name, t.path.name, t.table)
        for name, t in loaded.items()
        if t.path is not None and t.table is not None
    }
    for reference in REFERENCES:
        problems += _dangling(reference, readable)
    for candidate in readable.values():
        problems += _duplicates(candidate)
    return problems


def _no_file(name: str) -> str:
    return "no " + " or ".join(f"{name}.{fmt}" for fmt in FORMATS)


def _dangling(reference: Reference, tables: Mapping[str, _Readable]) -> list[Problem]:
    """Rows whose reference names no row of the target table.

    A missing or unreadable target is already a problem of its own; counting every row as
    dangling on top of it would bury that one line under noise, so it is skipped.
    """
    source, target = tables.get(reference.table), tables.get(reference.target)
    if source is None or target is None:
        return []
    keys = pc.unique(target.table.column(reference.target_column))
    values = source.table.column(reference.column)
    present = pc.invert(pc.fill_null(pc.equal(values, ""), True))
    dangling = pc.and_(present, pc.invert(pc.is_in(values, value_set=keys)))
    count = int(pc.sum(dangling).as_py() or 0)
    if not count:
        return []
    first = int(pc.index(dangling, True).as_py()) + 1
    return [
        Problem(
            f"{source.file}:{reference.column}",
            "dangling_reference",
            f"names no row of {reference.target} in {count} row{'s' if count != 1 else ''}, "
            f"first at row {first}",
        )
    ]


def _duplicates(readable: _Readable) -> list[Problem]:
    """Repeated values in a column the spec calls unique (``accesses.event_id``)."""
    problems = []
    for column in TABLES[readable.name].columns:
        if not column.unique:
            continue
        repeats = _repeats(readable.table.column(column.name))
        if repeats:
            problems.append(
                Problem(
                    f"{readable.file}:{column.name}",
                    "duplicate_id",
                    f"is not unique: {repeats} row{'s' if repeats != 1 else ''} repeat "
                    "an earlier value",
                )
            )
    return problems


def _repeats(values: pa.ChunkedArray) -> int:
    """How many rows repeat an earlier value.

    Writers usually number events in order, and a strictly increasing column cannot repeat:
    checking that takes one pass, where hashing ten million strings takes several seconds.
    """
    if len(values) < 2:
        return 0
    increasing = pc.less(values.slice(0, len(values) - 1), values.slice(1))
    if pc.all(increasing, skip_nulls=False).as_py():
        return 0
    return len(values) - len(pc.unique(values))
