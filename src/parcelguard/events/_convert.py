"""Turn a table as found into its schema, or say precisely what stands in the way.

One conversion serves three callers: a CSV file read as strings, a Parquet file with
whatever types its writer chose, and an Arrow table handed to the writer. Going through
the same rules is what makes a table written as CSV read back equal to the same table
written as Parquet.

Everything is vectorised with ``pyarrow.compute``: tables hold tens of millions of rows.
Problems name the place (``file:column``), a row number and a code, never the value found
there: a misplaced column can put a name or a phone number where an id belongs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from parcelguard.core.errors import Problem
from parcelguard.events.schema import Column, Table

_EXAMPLE_TIME = "2016-10-03T09:15:02+08:00"
_PARSE_FAILURE: dict[str, tuple[str, str]] = {
    "ts": ("bad_time", f"is not an ISO 8601 time with an offset such as {_EXAMPLE_TIME}"),
    "date": ("bad_date", "is not a date of the form 2016-10-03"),
    "bool": ("bad_bool", "is not true or false"),
}


def column_problems(names: Sequence[str], spec: Table, where: str) -> list[Problem]:
    """Missing or repeated spec columns; extra columns are fine, the spec ignores them."""
    counts = Counter(names)
    problems = [
        Problem(f"{where}:{c}", "missing_column", f"has no column {c}")
        for c in spec.names
        if counts[c] == 0
    ]
    problems += [
        Problem(f"{where}:{c}", "duplicate_column", f"has column {c} {counts[c]} times")
        for c in spec.names
        if counts[c] > 1
    ]
    return problems


def conform(raw: pa.Table, spec: Table, where: str) -> tuple[pa.Table | None, list[Problem]]:
    """``raw`` as ``spec``'s schema (spec columns only, in spec order) and its problems.

    The table is None when a column is missing or cannot be converted; value problems
    (empty required cells, values outside an enumeration) still yield the table, so a
    validator can go on to check references.
    """
    problems = column_problems(raw.column_names, spec, where)
    if problems:
        return None, problems
    arrays = []
    for column in spec.columns:
        array, found = _convert_column(raw.column(column.name), column, f"{where}:{column.name}")
        problems += found
        arrays.append(array)
    if any(a is None for a in arrays):
        return None, problems
    return pa.Table.from_arrays(arrays, schema=spec.arrow_schema()), problems


def _convert_column(
    values: pa.ChunkedArray, column: Column, where: str
) -> tuple[pa.ChunkedArray | None, list[Problem]]:
    if _is_text(values.type):
        converted, problem = _from_text(_as_string(values), column, where)
    else:
        converted, problem = _from_typed(values, column, where)
    if converted is None:
        return None, [] if problem is None else [problem]
    return converted, _value_problems(converted, column, where)


def _is_text(type_: pa.DataType) -> bool:
    if pa.types.is_dictionary(type_):
        return _is_text(type_.value_type)
    return bool(
        pa.types.is_string(type_) or pa.types.is_large_string(type_) or _is_string_view(type_)
    )


def _is_string_view(type_: pa.DataType) -> bool:
    is_view = getattr(pa.types, "is_string_view", None)  # pyarrow >= 16 only
    return bool(is_view is not None and is_view(type_))


def _as_string(values: pa.ChunkedArray) -> pa.ChunkedArray:
    return values if values.type == pa.string() else values.cast(pa.string())


def _from_text(
    text: pa.ChunkedArray, column: Column, where: str
) -> tuple[pa.ChunkedArray | None, Problem | None]:
    """Parse strings; an empty cell means "no value" except in required string columns.

    A required string column keeps its empty strings so that :func:`_value_problems`
    can report them as empty, rather than a parser reporting them as malformed.
    """
    if column.nullable or column.kind != "str":
        text = _empty_to_null(text)
    if column.kind == "str":
        return text, None
    try:
        return text.cast(column.arrow_type), None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        row = _first_failing_row(text, column.arrow_type)
        code, message = _parse_failure(text[row], column)
        return None, Problem(where, code, f"row {row + 1} {message}")


def _empty_to_null(text: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


def _first_failing_row(text: pa.ChunkedArray, target: pa.DataType) -> int:
    """Find the first value that does not parse, by halving: about one more pass over the data.

    Arrow's cast reports only that some value failed; this keeps the same parser (so the row
    found is exactly what the cast rejected) without a Python loop over the rows.
    """
    low, high = 0, len(text)  # a failing row lies in [low, high)
    while high - low > 1:
        middle = (low + high) // 2
        try:
            text.slice(low, middle - low).cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            high = middle
        else:
            low = middle
    return low


def _parse_failure(value: pa.Scalar, column: Column) -> tuple[str, str]:
    """Tell a naive time apart from an unreadable one: the fix for each is different."""
    if column.kind == "ts" and _parses(value, pa.timestamp("us")):
        return "no_offset", f"has a time without a UTC offset; write it like {_EXAMPLE_TIME}"
    return _PARSE_FAILURE[column.kind]


def _parses(value: pa.Scalar, target: pa.DataType) -> bool:
    try:
        value.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def _from_typed(
    values: pa.ChunkedArray, column: Column, where: str
) -> tuple[pa.ChunkedArray | None, Problem | None]:
    """Cast a column a Parquet writer (or a caller) typed; naive times are refused.

    A timestamp without a time zone names no instant: guessing the zone would silently
    shift every event of a carrier that exported UTC wall-clock times.
    """
    if pa.types.is_null(values.type):  # a column of nothing but nulls, built without a type
        return values.cast(column.arrow_type), None
    if column.kind == "ts" and not pa.types.is_timestamp(values.type):
        return None, _bad_type(values.type, column, where)
    if column.kind == "ts" and values.type.tz is None:
        return None, Problem(
            where, "no_offset", "holds timestamps without a time zone; use timestamp[us, tz]"
        )
    try:
        return values.cast(column.arrow_type), None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None, _bad_type(values.type, column, where)


def _bad_type(found: pa.DataType, column: Column, where: str) -> Problem:
    return Problem(
        where, "bad_type", f"has type {found}, which does not convert to {column.arrow_type}"
    )


def _value_problems(values: pa.ChunkedArray, column: Column, where: str) -> list[Problem]:
    """Empty cells in a required column and values outside the column's enumeration."""
    empty = _empty_mask(values, column)
    problems = []
    if not column.nullable and (count := _count(empty)):
        problems.append(
            Problem(
                where,
                "empty_value",
                f"is empty in {_rows(count)}, first at row {_first(empty) + 1}; "
                "the spec requires a value",
            )
        )
    if column.values is not None:
        outside = pc.and_(
            pc.invert(pc.is_in(values, value_set=pa.array(column.values))), pc.invert(empty)
        )
        if count := _count(outside):
            problems.append(
                Problem(
                    where,
                    "bad_value",
                    f"holds a value outside the spec in {_rows(count)}, first at row "
                    f"{_first(outside) + 1}; allowed: {', '.join(column.values)}",
                )
            )
    return problems


def _empty_mask(values: pa.ChunkedArray, column: Column) -> pa.ChunkedArray:
    """True where a row holds no value: null, or (for strings) the empty string."""
    missing = pc.is_null(values)
    if column.kind != "str":
        return missing
    return pc.or_(missing, pc.fill_null(pc.equal(values, ""), False))


def _count(mask: pa.ChunkedArray) -> int:
    return int(pc.sum(mask).as_py() or 0)


def _first(mask: pa.ChunkedArray) -> int:
    return int(pc.index(mask, True).as_py())


def _rows(count: int) -> str:
    return f"{count} row{'s' if count != 1 else ''}"
