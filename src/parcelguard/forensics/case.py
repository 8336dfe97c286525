"""Where a leak case lives, and the shape of the persons table every step hands on.

A case is one directory under ``<PARCELGUARD_HOME>/cases/<name>``. Ingest writes ``case.json``
(what was read and how: the ingest report, the source file's SHA-256 and size, when the file
first appeared) and ``persons.parquet``; match and attribute write ``match.json``; the report
is written wherever ``--out`` says. Every file is written to a temporary name and renamed, so a
case is never half-written.

The persons table carries no plaintext: a person is known by blind indexes under the vault's
index key (the same HMAC the vault stores, so matching is a join and nothing is decrypted)
and by masked forms for people to read. The leaked file itself is the only plaintext, and it
stays where the investigator keeps the evidence.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from parcelguard.core.errors import BadInput

CASE_FILE = "case.json"
PERSONS_FILE = "persons.parquet"
MATCH_FILE = "match.json"

PERSONS_SCHEMA = pa.schema(
    [
        # Dense 0-based id of the distinct person in this case.
        pa.field("person_id", pa.int64(), nullable=False),
        # BlindIndexer.phone(normalised 11-digit mobile); null when the person has no mobile.
        pa.field("phone_bidx", pa.binary(16)),
        # BlindIndexer.name_phone(name, mobile); null without both.
        pa.field("name_phone_bidx", pa.binary(16)),
        # Keyed digest of the 18-character resident ID number (upper-case X); null without one.
        pa.field("id_digest", pa.binary(16)),
        # Masked forms for people to read (core.masking); null where absent.
        pa.field("phone_masked", pa.string()),
        pa.field("name_masked", pa.string()),
        # District adcode (6 digits) recognised in the address; null where none was found.
        pa.field("adcode", pa.string()),
        # A virtual number of this carrier found with the person (11 digits); null otherwise.
        pa.field("virtual_number", pa.string()),
        # A waybill number found with the person (this carrier's or another's); null otherwise.
        pa.field("waybill_no", pa.string()),
        # How many data lines of the file were merged into this person (Art. 11: counted once).
        pa.field("rows", pa.int32(), nullable=False),
        # 1-based line number (or sheet row) of the first of them, to find it in the evidence.
        pa.field("first_row", pa.int64(), nullable=False),
    ]
)

_CASE_NAME = re.compile(r"^[A-Za-z0-9\u4e00-\u9fff][A-Za-z0-9\u4e00-\u9fff._-]{0,99}$")


def case_name_of_file(path: Path) -> str:
    """The default case name: the file's name without its suffix, made safe for a folder."""
    stem = re.sub(r"[^A-Za-z0-9\u4e00-\u9fff._-]+", "-", path.stem).strip("-._") or "case"
    return stem[:100]


@dataclass(frozen=True, slots=True)
class CaseDir:
    """One case's directory; the name is checked so that it can never leave ``cases/``."""

    root: Path
    name: str

    @classmethod
    def under(cls, home: Path, name: str) -> CaseDir:
        if not _CASE_NAME.fullmatch(name):
            raise BadInput(
                f"case {name!r}: a case name is 1-100 letters, digits, Chinese characters, "
                "'.', '_' or '-', and starts with a letter, digit or character"
            )
        return cls(root=home / "cases" / name, name=name)

    @property
    def case_file(self) -> Path:
        return self.root / CASE_FILE

    @property
    def persons_file(self) -> Path:
        return self.root / PERSONS_FILE

    @property
    def match_file(self) -> Path:
        return self.root / MATCH_FILE

    def exists(self) -> bool:
        return self.case_file.is_file()

    def require(self) -> CaseDir:
        """This case, or a clear error that says how to make one."""
        if not self.exists():
            raise BadInput(
                f"case {self.name!r}: no such case under {self.root.parent} "
                "(run `parcelguard leak ingest FILE --case NAME` first)"
            )
        return self

    def read_json(self, path: Path) -> dict[str, object]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BadInput(f"case {self.name!r}: {path.name} is missing") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadInput(f"case {self.name!r}: {path.name} is not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise BadInput(f"case {self.name!r}: {path.name} is not a JSON object")
        return data

    def write_json(self, path: Path, data: dict[str, object]) -> None:
        text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
        write_atomically(path, text.encode("utf-8"))

    def read_persons(self) -> pa.Table:
        try:
            table = pq.read_table(self.persons_file)
        except FileNotFoundError:
            raise BadInput(f"case {self.name!r}: {PERSONS_FILE} is missing") from None
        except pa.ArrowException as exc:
            raise BadInput(f"case {self.name!r}: {PERSONS_FILE} is unreadable ({exc})") from None
        if not table.schema.equals(PERSONS_SCHEMA, check_metadata=False):
            raise BadInput(f"case {self.name!r}: {PERSONS_FILE} does not have the persons schema")
        return table

    def write_persons(self, table: pa.Table) -> None:
        """Write the persons table (cast to the schema, so a wrong column fails here)."""
        table = table.select(PERSONS_SCHEMA.names).cast(PERSONS_SCHEMA)
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".persons-", suffix=".tmp")
        os.close(fd)
        try:
            pq.write_table(table, tmp, compression="zstd")
            os.replace(tmp, self.persons_file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
