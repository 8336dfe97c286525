"""The audit log as the ``accesses`` table of the event exchange format (``events.md``, v1).

Why: detection (``parcelguard detect``, or a carrier's own tools) reads the exchange format,
and the audit log is the one record of who looked at what that nobody can quietly edit.
Exporting it lets detectors run on the tamper-evident record itself, and every exported row
stays tied to the log: the export names the tree size and root hash it covers, and each
row's ``event_id`` is the entry's index in the log.

The mapping, column by column (one row per entry):

* ``event_id`` is ``audit-<index>`` (``audit-0``, ``audit-41``): unique, stable across
  exports, and reversible with :func:`sequence_of`. An alert's ``evidence`` list of event
  ids therefore turns into inclusion proofs with
  ``parcelguard audit bundle --entries <index>,<index>,...``.
* ``ts`` is the entry's time in the carrier's time zone (:data:`~parcelguard.core.clock.CARRIER_TZ`,
  UTC+08:00), as the format writes times.
* ``employee_id`` is the entry's ``actor``, ``device_id`` its ``device``; ``action``,
  ``waybill_no``, ``field``, ``purpose``, ``channel``, ``ip``, ``decision`` and ``reason``
  are copied; an empty ``waybill_no``, ``field`` or ``purpose`` becomes the format's
  "empty".

What is not exported, and why (each is counted under its reason in
:attr:`ExportResult.skipped`, so ``entries_read == accesses_written + sum(skipped)``):

* ``not_an_access:<action>``: the log also records actions that are not accesses to
  recipient data (``contain``, ``policy_change``, ...); the format's ``accesses`` table has
  no place for them, and a detector must not mistake them for accesses.
* ``<column>_outside_spec`` / ``no_<column>``: a ``field``, ``purpose``, ``channel`` or
  ``decision`` outside the format's enumerations (or missing where the format requires
  one). Rewriting such a value (an unknown purpose as ``other``, say) would tell detectors
  something the log never said, and writing it as is would make an invalid folder; the
  entry is left out and counted instead, so the operator sees how many and why.
* ``no_employee_id``: an entry without an actor cannot be attributed to anyone, and
  detection scores employees.
* ``time_out_of_range``: a time no calendar can show (the entry format allows any 64-bit
  microsecond count).
* ``after_until``: with ``--until``, entries later than that time.

Missing context is filled, not skipped: the format requires ``device_id``, ``ip`` and
``reason`` in every row (the reference checker would let an empty cell pass, but
:func:`~parcelguard.events.validate.validate_folder` and the writer do not). An entry that
did not record one of them is still a real access, and dropping it would hide it from
detection, so the cell holds :data:`UNKNOWN`, ``(unknown)``. Parentheses cannot occur in
an entry's text, so the marker never collides with a recorded value; the number of filled
cells per column is reported in :attr:`ExportResult.filled`.

Everything is read in one read transaction (``REPEATABLE READ`` on PostgreSQL, one WAL
snapshot on SQLite), so rows, tree size and root hash describe one state of the log while
appends go on. The folder is written beside ``--out`` under a hidden temporary name and
renamed into place only when complete: a crash never leaves a half-written export.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, NamedTuple

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from parcelguard.audit import merkle
from parcelguard.audit.entry import AuditEntry, EntryError, decode_entry
from parcelguard.audit.stored import LogIntegrityError, StoredHashes
from parcelguard.core.clock import CARRIER_TZ
from parcelguard.core.errors import BadInput
from parcelguard.events import write_folder_chunks
from parcelguard.events.io import FORMATS, Format
from parcelguard.events.schema import SCHEMAS, TABLES
from parcelguard.storage.schema import audit_entries

EVENT_ID_PREFIX: Final = "audit-"
UNKNOWN: Final = "(unknown)"
"""The value of a required cell (``device_id``, ``ip``, ``reason``) the entry did not record."""

CHUNK_ROWS: Final = 100_000
"""Entries read per query and written per chunk: bounded memory for logs of any size."""

_ACCESSES = TABLES["accesses"]
_ALLOWED: Final = {
    c.name: (frozenset(c.values), c.nullable) for c in _ACCESSES.columns if c.values is not None
}
_CHECKED: Final = ("field", "purpose", "channel", "decision")  # action is checked first
_FILLED: Final = ("device_id", "ip", "reason")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC).astimezone(CARRIER_TZ)
_EXAMPLE_TIME: Final = "2016-10-05T18:00:00+08:00"


class Access(NamedTuple):
    """One row of ``accesses``, fields in the format's column order; None is "empty"."""

    event_id: str
    ts: datetime
    employee_id: str
    action: str
    waybill_no: str | None
    field: str | None
    purpose: str | None
    channel: str
    device_id: str
    ip: str
    decision: str
    reason: str


class Skip(NamedTuple):
    """An entry that is not exported, and the reason it is counted under."""

    reason: str


def event_id(sequence: int) -> str:
    """The ``event_id`` of the entry at ``sequence``: stable, unique, and reversible."""
    return f"{EVENT_ID_PREFIX}{sequence}"


def sequence_of(event: str) -> int:
    """The log index behind an exported ``event_id``, for ``parcelguard audit bundle``."""
    digits = event.removeprefix(EVENT_ID_PREFIX)
    if digits == event or not digits.isascii() or not digits.isdigit():
        raise BadInput(f"event id {event!r}: not an exported audit entry (audit-<index>)")
    return int(digits)


def to_access(entry: AuditEntry, until_us: int | None = None) -> Access | Skip:
    """The entry as an ``accesses`` row, or why it is left out (see the module's doc)."""
    if until_us is not None and entry.time_us > until_us:
        return Skip("after_until")
    if entry.action not in _ALLOWED["action"][0]:
        return Skip(f"not_an_access:{entry.action}" if entry.action else "no_action")
    if not entry.actor:
        return Skip("no_employee_id")
    for column in _CHECKED:
        problem = _outside(column, getattr(entry, column))
        if problem is not None:
            return Skip(problem)
    try:
        ts = _EPOCH + timedelta(microseconds=entry.time_us)
    except OverflowError:
        return Skip("time_out_of_range")
    return Access(
        event_id=event_id(entry.sequence),
        ts=ts,
        employee_id=entry.actor,
        action=entry.action,
        waybill_no=entry.waybill_no or None,
        field=entry.field or None,
        purpose=entry.purpose or None,
        channel=entry.channel,
        device_id=entry.device or UNKNOWN,
        ip=entry.ip or UNKNOWN,
        decision=entry.decision,
        reason=entry.reason or UNKNOWN,
    )


def _outside(column: str, value: str) -> str | None:
    allowed, nullable = _ALLOWED[column]
    if not value:
        return None if nullable else f"no_{column}"
    return None if value in allowed else f"{column}_outside_spec"


def accesses_table(rows: Sequence[Access]) -> pa.Table:
    """Rows as an Arrow table of the format's ``accesses`` schema (the writer checks it again)."""
    schema = SCHEMAS["accesses"]
    if not rows:
        return schema.empty_table()
    columns = list(zip(*rows, strict=True))
    return pa.Table.from_arrays(
        [pa.array(values, type=f.type) for values, f in zip(columns, schema, strict=True)],
        schema=schema,
    )


class Tally:
    """What an export read, wrote, left out and filled in, counted as it streams."""

    __slots__ = ("accesses_written", "entries_read", "filled", "skipped")

    def __init__(self) -> None:
        self.entries_read = 0
        self.accesses_written = 0
        self.skipped: Counter[str] = Counter()
        self.filled: Counter[str] = Counter()

    def rows(self, entries: Sequence[AuditEntry], until_us: int | None) -> list[Access]:
        """The exportable rows of ``entries``, counting everything else."""
        kept: list[Access] = []
        for entry in entries:
            outcome = to_access(entry, until_us)
            if isinstance(outcome, Skip):
                self.skipped[outcome.reason] += 1
                continue
            kept.append(outcome)
            for column in _FILLED:
                if getattr(outcome, column) == UNKNOWN:
                    self.filled[column] += 1
        self.entries_read += len(entries)
        self.accesses_written += len(kept)
        return kept


@dataclass(frozen=True, slots=True)
class ExportResult:
    """The outcome, tied to the log head it covers so it can be checked against a checkpoint."""

    out: Path
    format: Format
    tree_size: int
    root_hash: bytes
    entries_read: int
    accesses_written: int
    skipped: dict[str, int]
    filled: dict[str, int]
    until: datetime | None

    def as_dict(self) -> dict[str, object]:
        return {
            "out": str(self.out),
            "format": self.format,
            "accesses_written": self.accesses_written,
            "entries_read": self.entries_read,
            "skipped": self.skipped,
            "filled": self.filled,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "until": None if self.until is None else self.until.isoformat(),
        }


def parse_until(text: str) -> datetime:
    """``--until``: an ISO 8601 time with a UTC offset; a naive time names no instant."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(
            f"--until {text}: not an ISO 8601 time; write it like {_EXAMPLE_TIME}"
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise BadInput(f"--until {text}: give the UTC offset too, like {_EXAMPLE_TIME}")
    return moment


def parse_format(text: str) -> Format:
    """``--format``: one of the formats :mod:`parcelguard.events.io` writes."""
    if text not in FORMATS:
        raise BadInput(f"--format {text}: use {' or '.join(FORMATS)}")
    return text


def export_accesses(
    engine: Engine,
    out: Path,
    *,
    fmt: Format = "parquet",
    until: datetime | None = None,
    force: bool = False,
    chunk_rows: int = CHUNK_ROWS,
) -> ExportResult:
    """Write the log's accesses to ``out`` (``accesses.<fmt>``) from one consistent snapshot.

    ``out`` must not exist or be empty; with ``force`` a non-empty folder is replaced, but
    only one that holds nothing but event tables (an earlier export), so a mistyped path
    cannot wipe an unrelated folder. Nothing appears under ``out`` until the export is
    complete. Raises :class:`BadInput` naming ``--out``, ``--format`` or ``--until``, and
    :class:`LogIntegrityError` if an entry is missing, unreadable or out of place.
    """
    if fmt not in FORMATS:
        raise BadInput(f"--format {fmt}: use {' or '.join(FORMATS)}")
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be positive")
    _check_out(out, force)
    until_us = None if until is None else _micros(until)
    scratch = out.with_name(f".{out.name}.{secrets.token_hex(8)}.tmp")
    tally = Tally()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with _snapshot(engine) as conn:
            size = _size(conn)
            root = merkle.root(StoredHashes(conn), size)
            chunks = _chunks(conn, size, until_us, chunk_rows, tally)
            write_folder_chunks(scratch, chunks, fmt)
        _move_into_place(scratch, out, force)
    except OSError as exc:  # the folder, not the store: SQLAlchemy raises its own errors
        raise BadInput(
            f"--out {out}: cannot write the export there ({exc.strerror or exc})"
        ) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return ExportResult(
        out=out,
        format=fmt,
        tree_size=size,
        root_hash=root,
        entries_read=tally.entries_read,
        accesses_written=tally.accesses_written,
        skipped=dict(sorted(tally.skipped.items())),
        filled=dict(sorted(tally.filled.items())),
        until=until,
    )


def _micros(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@contextmanager
def _snapshot(engine: Engine) -> Iterator[sa.Connection]:
    """A read transaction that sees one state of the log, as ``AuditLog.verify`` reads it.

    PostgreSQL: ``REPEATABLE READ``, one snapshot for every statement of the transaction.
    SQLite: ``BEGIN DEFERRED`` in WAL mode, one snapshot from the first read. Nothing is
    written, so the transaction is rolled back, never committed.
    """
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":  # one snapshot while appends go on
            conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin() as transaction:
            try:
                yield conn
            finally:
                transaction.rollback()


def _size(conn: sa.Connection) -> int:
    last = conn.execute(sa.select(sa.func.max(audit_entries.c.seq))).scalar()
    return 0 if last is None else int(last) + 1


def _chunks(
    conn: sa.Connection, size: int, until_us: int | None, chunk_rows: int, tally: Tally
) -> Iterator[tuple[str, pa.Table]]:
    """``("accesses", table)`` per chunk of entries, by keyset pagination on ``seq``.

    ``WHERE seq >= next`` on the primary key costs the same at any depth, where ``OFFSET``
    would rescan every earlier entry. The snapshot's size bounds the read, and each entry
    must carry its own index with none missing: the export claims to cover ``tree_size``
    entries, so a hole or a moved entry stops it (``parcelguard audit verify`` says more).
    At least one chunk is yielded, so an empty log still gives an ``accesses`` file.
    """
    query = (
        sa.select(audit_entries.c.seq, audit_entries.c.entry)
        .where(audit_entries.c.seq >= sa.bindparam("start"), audit_entries.c.seq < size)
        .order_by(audit_entries.c.seq)
        .limit(chunk_rows)
    )
    start = 0
    yielded = False
    while start < size:
        rows = conn.execute(query, {"start": start}).all()
        if not rows:
            raise _missing(start)
        entries = [
            _entry(int(seq), bytes(data), expected)
            for expected, (seq, data) in enumerate(rows, start=start)
        ]
        start += len(rows)
        yield "accesses", accesses_table(tally.rows(entries, until_us))
        yielded = True
    if not yielded:
        yield "accesses", accesses_table([])


def _entry(seq: int, data: bytes, expected: int) -> AuditEntry:
    if seq != expected:
        raise _missing(expected)
    try:
        entry = decode_entry(data)
    except EntryError as exc:
        raise LogIntegrityError(
            f"audit entry {seq}: unreadable ({exc}); nothing was exported, "
            "run `parcelguard audit verify`"
        ) from None
    if entry.sequence != seq:
        raise LogIntegrityError(
            f"audit entry {seq}: carries index {entry.sequence} (moved?); nothing was "
            "exported, run `parcelguard audit verify`"
        )
    return entry


def _missing(index: int) -> LogIntegrityError:
    return LogIntegrityError(
        f"audit entry {index}: missing (deleted?); nothing was exported, "
        "run `parcelguard audit verify`"
    )


def _export_names() -> frozenset[str]:
    return frozenset(f"{table}.{fmt}" for table in TABLES for fmt in FORMATS)


def _check_out(out: Path, force: bool) -> None:
    """Refuse an ``--out`` that is a file, or a non-empty folder without ``--force``."""
    here = Path.cwd()
    resolved = out.resolve()
    if not out.name or resolved == here or resolved in here.parents:
        raise BadInput(f"--out {out}: name a folder of its own for the export")
    if out.is_symlink():
        raise BadInput(f"--out {out}: is a link; name the folder itself")
    if not out.exists():
        return
    if not out.is_dir():
        raise BadInput(f"--out {out}: exists and is not a folder")
    present = sorted(p.name for p in out.iterdir())
    if not present:
        return
    if not force:
        raise BadInput(f"--out {out}: the folder is not empty; give --force to replace it")
    foreign = [name for name in present if name not in _export_names()]
    if foreign:
        raise BadInput(
            f"--out {out}: holds {len(foreign)} file(s) that are not event tables; "
            "--force replaces only an earlier export"
        )


def _move_into_place(scratch: Path, out: Path, force: bool) -> None:
    """Rename the finished folder to ``out``; an old export is moved aside, then removed.

    A rename within one folder is atomic: readers see the old export or the new one, never
    a mix. Between moving the old one aside and renaming the new one, ``out`` is briefly
    absent: a crash there leaves both complete, under their hidden names, and a failed
    rename puts the old one back.
    """
    old: Path | None = None
    if out.exists():
        if any(out.iterdir()):
            if not force:  # filled while we were exporting
                raise BadInput(f"--out {out}: the folder is not empty; give --force to replace it")
            old = out.with_name(f".{out.name}.{secrets.token_hex(8)}.old")
            out.rename(old)
        else:
            out.rmdir()
    try:
        scratch.rename(out)
    except OSError:
        if old is not None:
            old.rename(out)
        raise
    _fsync_dir(out.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable; some platforms cannot open a folder, which is fine there."""
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
