"""Reading a sender system's waybill file (CSV with a header, or JSON lines).

Streaming, so a file of millions of rows never sits in memory; strict, so that a wrong
encoding, a truncated row or an oversized field is named with its file and line instead of
being half-read. Problems never quote the row: it holds personal data.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from parcelguard.core.errors import BadInput, Problem
from parcelguard.core.waybill import COLUMNS, NewWaybill, WaybillRules, parse_waybill

MAX_FIELD_CHARS = 131_072
Parsed = tuple[str, NewWaybill | list[Problem]]
Progress = Callable[[int], None]


def detect_format(path: Path, head: bytes) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    return "jsonl" if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") else "csv"


def read_sender_file(
    path: Path, rules: WaybillRules, now: datetime, progress: Progress | None = None
) -> Iterator[Parsed]:
    """Yield ``(file:line, waybill or problems)`` for every record of ``path``.

    File-level problems (missing, empty, not UTF-8, no header, missing columns) raise
    :class:`BadInput` at once; record problems are yielded so all of them can be reported.
    """
    if not path.exists():
        raise BadInput(f"{path}: no such file")
    if not path.is_file():
        raise BadInput(f"{path}: not a regular file")
    with path.open("rb") as handle:
        head = handle.read(4096)
        if not head.strip():
            raise BadInput(f"{path}: the file is empty")
        handle.seek(0)
        lines = _decoded_lines(path, handle, progress)
        if detect_format(path, head) == "csv":
            yield from _csv_records(path, lines, rules, now)
        else:
            yield from _jsonl_records(path, lines, rules, now)


def _decoded_lines(path: Path, handle: BinaryIO, progress: Progress | None) -> Iterator[str]:
    for number, raw in enumerate(handle, start=1):
        if progress is not None:
            progress(len(raw))
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            hint = ""
            try:
                raw.decode("gb18030")
                hint = "; it looks like GBK/GB18030: convert it with `iconv -f GB18030 -t UTF-8`"
            except UnicodeDecodeError:
                pass
            raise BadInput(
                f"{path}:{number}: not UTF-8 (byte 0x{raw[exc.start]:02x} at column "
                f"{exc.start + 1}){hint}; nothing was written"
            ) from None
        if number == 1:
            text = text.removeprefix("\ufeff")
        yield text


def _csv_records(
    path: Path, lines: Iterator[str], rules: WaybillRules, now: datetime
) -> Iterator[Parsed]:
    csv.field_size_limit(MAX_FIELD_CHARS)
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise BadInput(f"{path}: the file is empty") from None
    except csv.Error as exc:
        raise BadInput(f"{path}:1: the header is not valid CSV ({exc})") from None
    header = [name.strip() for name in header]
    missing = [column for column in COLUMNS if column not in header]
    if missing:
        raise BadInput(f"{path}:1: the header lacks column(s) {', '.join(missing)}")
    doubled = sorted({name for name in header if header.count(name) > 1})
    if doubled:
        raise BadInput(f"{path}:1: the header repeats column(s) {', '.join(doubled)}")
    rows = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            reason = str(exc)
            if "field larger than field limit" in reason:
                reason = f"a field is longer than {MAX_FIELD_CHARS} characters"
            where = f"{path}:{reader.line_num}"
            yield where, [Problem(where, "malformed_csv", f"not valid CSV ({reason})")]
            return
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        rows += 1
        where = f"{path}:{reader.line_num}"
        if len(row) != len(header):
            yield (
                where,
                [
                    Problem(
                        where,
                        "wrong_field_count",
                        f"has {len(row)} fields, the header has {len(header)} (truncated row?)",
                    )
                ],
            )
            continue
        yield where, parse_waybill(dict(zip(header, row, strict=True)), where, rules, now)
    if rows == 0:
        raise BadInput(f"{path}: the header is followed by no waybills")


def _jsonl_records(
    path: Path, lines: Iterator[str], rules: WaybillRules, now: datetime
) -> Iterator[Parsed]:
    rows = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        rows += 1
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield (
                where,
                [
                    Problem(
                        where,
                        "malformed_json",
                        f"not valid JSON at column {exc.colno} (truncated?)",
                    )
                ],
            )
            continue
        if not isinstance(record, dict):
            yield where, [Problem(where, "not_an_object", "is not a JSON object")]
            continue
        yield where, parse_waybill(record, where, rules, now)
    if rows == 0:
        raise BadInput(f"{path}: the file holds no waybills")
