"""Leaked files as they are sold on the black market, written with their ground truth.

Leak forensics is only measurable on files whose content is known exactly: how many data
rows, how many distinct people, which rows repeat a person, which rows are untrue. This
module writes such files from synthetic people and returns a :class:`LeakTruth` beside
each one, so a test or a benchmark can compare what ingest found with what is there.

Two writers:

* :func:`write_leak_file` takes records (the demo passes the Jingzhou case's revealed
  recipients; :func:`synthetic_records` makes others) and writes CSV, TXT, XLSX or XLS in
  UTF-8 (with or without BOM), GBK, GB18030 or UTF-16, with every kind of mess the issue
  lists: odd Chinese headers or none, name, phone and address merged into one cell, phones
  in every spelling, CRLF, duplicate rows, untrue rows, ragged rows, a truncated last line.
* :func:`write_bulk_leak` writes tens of millions of rows of delimited text for the ingest
  benchmark. It is vectorised (pools of names and addresses, phones and ID numbers drawn as
  integers, lines joined by Arrow and encoded a chunk at a time) and keeps the same truth,
  with fewer kinds of mess but the same proportions.

Every person is synthetic: names, phones and districts come from the simulator's reference
tables (:mod:`parcelguard.simulate.reference`), streets from :mod:`.recipients`, resident ID
numbers are made from real district codes and birth dates with a valid GB 11643 check digit.

How the truth counts (the rules that ingest must reproduce under Art. 11 of 法释〔2017〕10号):

* ``rows`` is every data row, header lines excluded, the truncated last line included.
* A *person* is a connected set of records sharing a mobile number or an ID number.
  ``persons`` counts those that occur in the file; every true row belongs to one. A record
  whose only number is one of this carrier's virtual numbers (170, 171) names the employee
  it was issued to, not a person: such records are *virtual-number records*, one per
  distinct number, counted apart (``virtual_number_records``). Synthetic subscribers get
  no number in those ranges, nor in segments the prefix table lists only a few stray
  prefixes of (IoT and data-only ranges), so every synthetic phone is a real mobile.
* A *duplicate* row repeats a person seen in an earlier row (another spelling of the phone
  is still the same person).
* An *untrue* row carries no valid identifier at all: its phone is in an impossible segment
  (10x-12x) and its ID number, where the file has that column, has a wrong check digit. Such
  a row can never be a person, whatever the recogniser, so the counts stay unambiguous.
* The truncated last line is a copy of an earlier true row cut short, so it never adds a
  person: whether ingest drops it or reads it as a duplicate, ``persons`` is the same.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import itertools
import json
import math
import os
import random
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from parcelguard.core.errors import BadInput
from parcelguard.core.phone import InvalidPhone, normalise_cn_mobile
from parcelguard.simulate.recipients import ESTATES, ROADS, RecipientMaker
from parcelguard.simulate.reference import districts, mobile_segments, sample_names, sample_phones
from parcelguard.vnum.numbers import DEFAULT_PREFIXES, is_virtual_number

__all__ = [
    "DEFAULT_PHONE_SPELLINGS",
    "ENCODINGS",
    "PHONE_SPELLINGS",
    "LeakFileOptions",
    "LeakRecord",
    "LeakTruth",
    "RowKind",
    "id_check_digit",
    "is_valid_id_number",
    "spell_phone",
    "synthetic_records",
    "write_bulk_leak",
    "write_leak_file",
    "write_truth",
]

I64 = npt.NDArray[np.int64]
Format = Literal["csv", "txt", "xlsx", "xls"]
Header = Literal["plain", "odd", "none"]
Layout = Literal["split", "merged"]
Progress = Callable[[int], None]

ENCODINGS: Final = ("utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16")
# Encodings whose ASCII bytes are ASCII, which the bulk writer relies on.
_BULK_ENCODINGS: Final = ("utf-8", "utf-8-sig", "gbk", "gb18030")
_DELIMITERS: Final = (",", "\t", "|", "spaces")
_FORMATS: Final = ("csv", "txt", "xlsx", "xls")
_XLS_MAX_ROWS: Final = 65_536  # rows per sheet in the old binary format, header included

PHONE_SPELLINGS: Final = ("plain", "spaced", "dashed", "plus86", "0086", "86", "fullwidth")
# Share of each spelling in a file: most numbers plain, the rest as people and exports
# write them. A modelling choice, not a survey.
DEFAULT_PHONE_SPELLINGS: Final[Mapping[str, float]] = {
    "plain": 0.55,
    "spaced": 0.08,
    "dashed": 0.07,
    "plus86": 0.09,
    "0086": 0.06,
    "86": 0.07,
    "fullwidth": 0.08,
}
_FULLWIDTH: Final = str.maketrans("0123456789", "０１２３４５６７８９")


class RowKind:
    """Codes of :attr:`LeakTruth.row_kind`."""

    FIRST: Final = 0  # the first row of its person
    DUPLICATE: Final = 1  # a later row of a person already seen
    UNTRUE: Final = 2  # no valid identifier: never a person
    TRUNCATED: Final = 3  # the cut last line, a copy of an earlier true row
    NAMES: Final = ("first", "duplicate", "untrue", "truncated")


# Column headers by role: the obvious one first, then the odd ones sellers use.
_HEADERS: Final[Mapping[str, tuple[str, ...]]] = {
    "name": ("姓名", "收件人", "收货人", "客户名称", "联系人", "收方姓名", "名字"),
    "phone": ("电话", "手机号码", "联系方式", "收件电话", "号码", "TEL", "收方手机"),
    "address": ("地址", "收货地址", "详细地址", "收件地址", "送货地址", "所在地"),
    "id_number": ("身份证号", "证件号码", "身份证", "证件号", "SFZ"),
    "waybill_no": ("运单号", "快递单号", "物流单号", "面单号", "单号"),
    "amount": ("金额", "代收货款", "货款", "实付", "价格"),
    "date": ("日期", "下单时间", "发货日期", "时间", "录入日期"),
    "info": ("收件信息", "客户资料", "资料", "信息", "详情"),
}
# What sellers and tools append to a few lines: a remark, a status, an empty cell.
_REMARKS: Final = ("已签收", "加急", "重复", "", "回访", "勿打", "ok")
_SHEET_NAMES: Final = ("Sheet1", "第二批", "新数据", "客户资料", "补充", "Sheet6", "汇总", "其他")
# Waybill number shapes: this carrier's, then other carriers' (prefix, digits).
_WAYBILL_SHAPES: Final = (("PG", 12), ("SF", 12), ("YT", 13), ("75", 12), ("JT", 13))
_MISSING_IN_SPACES: Final = "-"  # a space-delimited file cannot hold an empty cell

# --------------------------------------------------------------------- ID numbers (GB 11643)

_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK: Final = "10X98765432"
_BIRTH_FIRST: Final = dt.date(1950, 1, 1)
_BIRTH_LAST: Final = dt.date(2004, 12, 31)
# The workbook's creation time, fixed: the same seed must give the same bytes.
_FIXED_CREATED: Final = dt.datetime(2016, 11, 1, 9, 30)


def id_check_digit(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits of a resident ID number."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("an ID number's body is 17 ASCII digits")
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def is_valid_id_number(text: str) -> bool:
    """Whether ``text`` is 17 digits and the right check character (``X`` in upper case)."""
    return (
        len(text) == 18
        and text[:17].isascii()
        and text[:17].isdigit()
        and id_check_digit(text[:17]) == text[17]
    )


def _id_check_index(id17: I64) -> I64:
    """Index into ``_ID_CHECK`` of each 17-digit body, vectorised, last digit first."""
    rest = id17.copy()
    total = np.zeros(len(id17), dtype=np.int64)
    for weight in reversed(_ID_WEIGHTS):
        rest, digit = np.divmod(rest, 10)
        total += digit * weight
    check: I64 = total % 11
    return check


def _id_text(id17: int, check_index: int) -> str:
    return f"{id17:017d}{_ID_CHECK[check_index]}"


def _id_bodies(rng: np.random.Generator, adcodes: I64) -> I64:
    """17-digit ID bodies: district code, a birth date in 1950-2004, a sequence number."""
    n = len(adcodes)
    span = (_BIRTH_LAST - _BIRTH_FIRST).days + 1
    born = np.datetime64(_BIRTH_FIRST) + rng.integers(0, span, n).astype("timedelta64[D]")
    year = born.astype("datetime64[Y]").astype(np.int64) + 1970
    month_start = born.astype("datetime64[M]")
    month = month_start.astype(np.int64) % 12 + 1
    day = (born - month_start.astype("datetime64[D]")).astype(np.int64) + 1
    birth = year * 10_000 + month * 100 + day
    bodies: I64 = adcodes * 10**11 + birth * 1_000 + rng.integers(0, 1_000, n)
    return bodies


def _unique_redrawn(values: I64, redraw: Callable[[int], I64]) -> I64:
    """``values`` with every repeat replaced by a fresh draw until all are distinct.

    Ten million random phones collide in about ten thousand pairs; a truth that claims
    distinct people must make them distinct. One (unstable, deterministic) sort a round.
    """
    values = values.copy()
    while True:
        order = np.argsort(values)
        ranked = values[order]
        repeat = order[1:][ranked[1:] == ranked[:-1]]
        if len(repeat) == 0:
            return values
        values[repeat] = redraw(len(repeat))


# A segment is issued when the prefix table lists at least this many of its 10,000 7-digit
# prefixes (the rule the mobile recogniser applies): 140-144, 154, 160... hold 18-204 strays.
_ISSUED_SEGMENT_PREFIXES: Final = 1_000


@functools.cache
def _subscriber_prefixes() -> npt.NDArray[np.bool_]:
    """Per row of ``mobile_segments()``: a prefix a real subscriber's number may have.

    Issued segments only, and none of this carrier's virtual-number ranges.
    """
    segment = mobile_segments().prefix.astype(np.int64) // 10_000
    values, inverse, counts = np.unique(segment, return_inverse=True, return_counts=True)
    virtual = np.isin(values, [int(p) for p in DEFAULT_PREFIXES])
    ok: npt.NDArray[np.bool_] = ((counts >= _ISSUED_SEGMENT_PREFIXES) & ~virtual)[inverse]
    ok.flags.writeable = False
    return ok


def _subscriber_phones(rng: np.random.Generator, provinces: npt.NDArray[np.str_]) -> I64:
    """:func:`sample_phones` for ``provinces``, redrawn until every number is a subscriber's."""
    segments = mobile_segments()
    allowed = segments.prefix[_subscriber_prefixes()].astype(np.int64)
    phones = sample_phones(rng, provinces).astype(np.int64)
    while True:
        bad = np.flatnonzero(~np.isin(phones // 10_000, allowed))
        if len(bad) == 0:
            return phones
        phones[bad] = sample_phones(rng, provinces[bad]).astype(np.int64)


# ------------------------------------------------------------------------------ records


@dataclass(frozen=True, slots=True)
class LeakRecord:
    """One recipient as a seller has it. ``phone`` is a mobile or virtual number."""

    name: str = field(repr=False)
    phone: str = field(repr=False)
    address: str = field(repr=False)
    id_number: str | None = field(default=None, repr=False)
    waybill_no: str | None = None
    amount: float | None = None
    date: dt.date | None = None


def _addresses(rng: np.random.Generator, where: I64) -> list[str]:
    """Street addresses in the districts ``where`` (rows of ``districts()``), like the vault's."""
    d = districts()
    n = len(where)
    road = np.array(ROADS)[rng.integers(0, len(ROADS), n)]
    kind = np.array(("路", "大道", "街"))[rng.integers(0, 3, n)]
    number = rng.integers(1, 300, n)
    estate = np.array(ESTATES)[rng.integers(0, len(ESTATES), n)]
    place = np.array(("小区", "花园", "家园"))[rng.integers(0, 3, n)]
    building = rng.integers(1, 30, n)
    unit = rng.integers(1, 6, n)
    room = rng.integers(1, 33, n) * 100 + rng.integers(1, 5, n)
    city = np.where(d.city[where] == d.province[where], "", d.city[where])
    return [
        f"{p}{c}{dn}{r}{k}{no}号{e}{pl}{b}栋{u}单元{rm}室"
        for p, c, dn, r, k, no, e, pl, b, u, rm in zip(
            d.province[where].tolist(),
            city.tolist(),
            d.name[where].tolist(),
            road.tolist(),
            kind.tolist(),
            number.tolist(),
            estate.tolist(),
            place.tolist(),
            building.tolist(),
            unit.tolist(),
            room.tolist(),
            strict=True,
        )
    ]


def _waybill_numbers(rng: np.random.Generator, n: int, own_share: float) -> list[str]:
    own = rng.random(n) < own_share
    shape = np.where(own, 0, rng.integers(1, len(_WAYBILL_SHAPES), n))
    serial = rng.integers(0, 10**12, n)
    return [
        f"{_WAYBILL_SHAPES[s][0]}{int(x):0{_WAYBILL_SHAPES[s][1]}d}"
        for s, x in zip(shape.tolist(), serial.tolist(), strict=True)
    ]


def synthetic_records(
    n: int,
    *,
    seed: int,
    id_share: float = 0.4,
    waybill_share: float = 0.8,
    own_waybill_share: float = 0.7,
    amount_share: float = 0.5,
    date_share: float = 0.5,
) -> list[LeakRecord]:
    """``n`` synthetic recipients with distinct phones and ID numbers, from the seed.

    Phones come from segments of the address's province (as a real subscriber's would),
    ID numbers from the address's district and a birth date. The shares say how many
    records carry the optional fields; waybill numbers are this carrier's (``PG``) for
    ``own_waybill_share`` of them and another carrier's otherwise.
    """
    if n < 0:
        raise BadInput("synthetic_records n: must not be negative")
    rng = np.random.default_rng([seed, 0x1EA4])
    d = districts()
    where = rng.integers(0, len(d), n)
    names = sample_names(rng, n).tolist()
    phones = _unique_redrawn(
        _subscriber_phones(rng, d.phone_province[where]),
        lambda k: _subscriber_phones(rng, d.phone_province[rng.integers(0, len(d), k)]),
    )
    adcodes = d.adcode[where].astype(np.int64)
    bodies = _unique_redrawn(
        _id_bodies(rng, adcodes), lambda k: _id_bodies(rng, adcodes[rng.integers(0, n, k)])
    )
    checks = _id_check_index(bodies)
    addresses = _addresses(rng, where)
    waybills = _waybill_numbers(rng, n, own_waybill_share)
    has = rng.random((4, n)) < np.array([[id_share], [waybill_share], [amount_share], [date_share]])
    amounts = np.round(rng.gamma(2.0, 60.0, n) + 9.9, 2)
    days = rng.integers(0, 92, n)
    first_day = dt.date(2016, 9, 1)
    return [
        LeakRecord(
            name=names[i],
            phone=f"{int(phones[i]):011d}",
            address=addresses[i],
            id_number=_id_text(int(bodies[i]), int(checks[i])) if has[0, i] else None,
            waybill_no=waybills[i] if has[1, i] else None,
            amount=float(amounts[i]) if has[2, i] else None,
            date=first_day + dt.timedelta(days=int(days[i])) if has[3, i] else None,
        )
        for i in range(n)
    ]


# -------------------------------------------------------------------------------- truth


@dataclass(frozen=True, eq=False)
class LeakTruth:
    """What a leaked file holds, exactly; arrays have one element per row or per record.

    ``row_record`` is the input record a row was written from (-1 for an untrue row),
    ``row_person`` its person (-1 likewise), ``row_kind`` a :class:`RowKind` code,
    ``row_sheet`` the sheet (0 for text files) and ``row_line`` the 1-based line of the row
    in its file or sheet, header lines counted. ``record_phone`` holds each record's
    normalised 11-digit number as an integer, ``record_id17`` the first 17 digits of its ID
    number (-1 for none; :meth:`id_number` gives the text). ``person_virtual`` marks the
    "persons" that are virtual-number records.
    """

    fmt: str
    encoding: str | None
    delimiter: str | None
    layout: str
    header: tuple[str, ...] | None
    columns: tuple[str, ...]
    sheets: tuple[str, ...]
    line_ending: str | None
    phone_spellings: Mapping[str, int]
    numeric_phones: int
    ragged_rows: int
    row_record: I64
    row_person: I64
    row_kind: npt.NDArray[np.uint8]
    row_sheet: npt.NDArray[np.int32]
    row_line: I64
    record_person: I64
    record_phone: I64
    record_id17: I64
    person_virtual: npt.NDArray[np.bool_]

    @property
    def rows(self) -> int:
        return len(self.row_kind)

    def _present(self, virtual: bool) -> int:
        present = np.unique(self.row_person[self.row_person >= 0])
        return int(np.count_nonzero(self.person_virtual[present] == virtual))

    @property
    def persons(self) -> int:
        """Distinct persons in the file (truncated copies add none)."""
        return self._present(False)

    @property
    def virtual_number_records(self) -> int:
        """Distinct virtual numbers that are a row's only number (not persons)."""
        return self._present(True)

    def count(self, kind: int) -> int:
        return int(np.count_nonzero(self.row_kind == kind))

    @property
    def duplicate_rows(self) -> int:
        return self.count(RowKind.DUPLICATE)

    @property
    def untrue_rows(self) -> int:
        return self.count(RowKind.UNTRUE)

    @property
    def truncated_last_row(self) -> bool:
        return self.rows > 0 and int(self.row_kind[-1]) == RowKind.TRUNCATED

    def phone(self, record: int) -> str:
        return f"{int(self.record_phone[record]):011d}"

    def id_number(self, record: int) -> str | None:
        body = int(self.record_id17[record])
        if body < 0:
            return None
        return _id_text(body, int(_id_check_index(np.array([body], dtype=np.int64))[0]))

    def as_dict(self, *, detail: bool = False) -> dict[str, Any]:
        """The counts, JSON-able and free of personal data; ``detail`` adds every row and
        record (phones and ID numbers included: synthetic, for tests, never for output)."""
        out: dict[str, Any] = {
            "format": self.fmt,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "layout": self.layout,
            "header": list(self.header) if self.header is not None else None,
            "columns": list(self.columns),
            "sheets": list(self.sheets),
            "line_ending": self.line_ending,
            "rows": self.rows,
            "persons": self.persons,
            "virtual_number_records": self.virtual_number_records,
            "duplicate_rows": self.duplicate_rows,
            "untrue_rows": self.untrue_rows,
            "truncated_last_row": self.truncated_last_row,
            "ragged_rows": self.ragged_rows,
            "numeric_phones": self.numeric_phones,
            "phone_spellings": dict(self.phone_spellings),
            "records": len(self.record_phone),
        }
        if detail:
            out["row_record"] = self.row_record.tolist()
            out["row_person"] = self.row_person.tolist()
            out["row_kind"] = [RowKind.NAMES[k] for k in self.row_kind.tolist()]
            out["row_sheet"] = self.row_sheet.tolist()
            out["row_line"] = self.row_line.tolist()
            out["record_person"] = self.record_person.tolist()
            out["person_virtual"] = self.person_virtual.tolist()
            out["record_phone"] = [self.phone(i) for i in range(len(self.record_phone))]
            out["record_id_number"] = [self.id_number(i) for i in range(len(self.record_id17))]
        return out


def write_truth(truth: LeakTruth, path: Path, *, detail: bool = True) -> None:
    """Save ``truth.as_dict(detail=detail)`` as JSON beside its file (written, then renamed).

    With ``detail`` the JSON holds the synthetic phones and ID numbers: it is test data for
    measuring recall, like the leaked file itself, and never an output of ParcelGuard.
    """
    data = json.dumps(truth.as_dict(detail=detail), ensure_ascii=False).encode("utf-8")
    _atomic_write(Path(path), lambda tmp: _write_bytes(tmp, data))


def _row_kinds(row_person: I64) -> npt.NDArray[np.uint8]:
    """FIRST for each person's earliest row, DUPLICATE for its later ones, UNTRUE for -1."""
    kind = np.full(len(row_person), RowKind.DUPLICATE, dtype=np.uint8)
    kind[row_person < 0] = RowKind.UNTRUE
    true_rows = np.flatnonzero(row_person >= 0)
    _, first = np.unique(row_person[true_rows], return_index=True)
    kind[true_rows[first]] = RowKind.FIRST
    return kind


# ------------------------------------------------------------------------------ options


@dataclass(frozen=True, slots=True)
class LeakFileOptions:
    """How messy :func:`write_leak_file` makes a file. The defaults are a messy GBK CSV.

    Shares are of the records: ``duplicate_share`` 0.05 adds 5 extra rows per 100 records
    repeating a random earlier person, ``untrue_share`` adds rows with no valid identifier,
    ``ragged_share`` gives rows one cell more or one optional cell fewer than the header.
    ``numeric_phone_share`` (XLSX and XLS) stores that share of plain phones as numbers,
    as Excel does when a seller types them. ``sheets`` spreads rows over that many sheets.
    """

    fmt: Format = "csv"
    encoding: str = "gbk"
    delimiter: str = ","
    header: Header = "odd"
    layout: Layout = "split"
    line_ending: str = "\r\n"
    duplicate_share: float = 0.05
    untrue_share: float = 0.02
    ragged_share: float = 0.02
    truncate_last: bool = True
    phone_spellings: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_PHONE_SPELLINGS)
    )
    sheets: int = 2
    numeric_phone_share: float = 0.3

    def checked(self) -> LeakFileOptions:
        """Self, or a :class:`BadInput` naming the first option that cannot be written."""

        def bad(name: str, problem: str) -> BadInput:
            return BadInput(f"leak file option {name}: {problem}")

        if self.fmt not in _FORMATS:
            raise bad("fmt", f"must be one of {', '.join(_FORMATS)}")
        if self.encoding not in ENCODINGS:
            raise bad("encoding", f"must be one of {', '.join(ENCODINGS)}")
        if self.delimiter not in _DELIMITERS:
            raise bad("delimiter", "must be ',', a tab, '|' or 'spaces'")
        if self.header not in ("plain", "odd", "none"):
            raise bad("header", "must be plain, odd or none")
        if self.layout not in ("split", "merged"):
            raise bad("layout", "must be split or merged")
        if self.line_ending not in ("\r\n", "\n"):
            raise bad("line_ending", "must be CRLF or LF")
        for name in ("duplicate_share", "untrue_share", "ragged_share", "numeric_phone_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise bad(name, "must be between 0 and 1")
        unknown = sorted(set(self.phone_spellings) - set(PHONE_SPELLINGS))
        if unknown:
            raise bad("phone_spellings", f"unknown spellings {unknown}")
        weights = list(self.phone_spellings.values())
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise bad("phone_spellings", "weights must be non-negative and not all zero")
        if not 1 <= self.sheets <= len(_SHEET_NAMES):
            raise bad("sheets", f"must be between 1 and {len(_SHEET_NAMES)}")
        return self


# ------------------------------------------------------------------------- phone spelling


def spell_phone(digits: str, spelling: str, *, spaces_allowed: bool = True) -> str:
    """An 11-digit number as a seller might write it (``spelling`` from PHONE_SPELLINGS).

    Without ``spaces_allowed`` (a space-delimited file) the spellings keep no inner space.
    """
    gap = " " if spaces_allowed else "-"
    grouped = f"{digits[:3]}{{0}}{digits[3:7]}{{0}}{digits[7:]}"
    spelled = {
        "plain": digits,
        "spaced": grouped.format(gap),
        "dashed": grouped.format("-"),
        "plus86": f"+86{gap}{digits}",
        "0086": f"0086{digits}",
        "86": f"86{digits}",
        "fullwidth": digits.translate(_FULLWIDTH),
    }
    if spelling not in spelled:
        raise ValueError(f"unknown phone spelling {spelling!r}")
    return spelled[spelling]


# ------------------------------------------------------------------------- record checks


def _persons_of(phones: Sequence[str], ids: Sequence[str | None]) -> tuple[I64, list[bool]]:
    """Dense person id per record, and which persons are virtual-number records.

    Records sharing a mobile or an ID number are one person, transitively. A record whose
    only number is a virtual number joins the other records with that number alone.
    """
    parent = list(range(len(phones)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    seen: dict[tuple[str, str], int] = {}
    virtual_only: list[bool] = []
    for i, (phone, id_number) in enumerate(zip(phones, ids, strict=True)):
        virtual = is_virtual_number(phone)
        keys = [("id", id_number)] if id_number is not None else []
        if not virtual:
            keys.append(("mobile", phone))
        elif not keys:
            keys.append(("virtual", phone))
        virtual_only.append(virtual and id_number is None)
        for key in keys:
            j = seen.setdefault(key, i)
            if j != i:
                parent[root(i)] = root(j)
    dense: dict[int, int] = {}
    person = [dense.setdefault(root(i), len(dense)) for i in range(len(phones))]
    person_virtual = [False] * len(dense)
    for i, p in enumerate(person):
        person_virtual[p] = virtual_only[i]
    return np.array(person, dtype=np.int64), person_virtual


def _checked_records(
    records: Iterable[LeakRecord], spaces: bool
) -> tuple[list[LeakRecord], list[str]]:
    """The records and their normalised phones, or a BadInput naming record and field."""
    out: list[LeakRecord] = []
    phones: list[str] = []
    for i, record in enumerate(records):
        where = f"records[{i}]"
        for name in ("name", "address"):
            value = getattr(record, name)
            if not isinstance(value, str) or not value.strip():
                raise BadInput(f"{where}.{name}: must be a non-empty text")
        for name in ("name", "address", "phone", "id_number", "waybill_no"):
            value = getattr(record, name)
            if value is None:
                continue
            if any(ch in value for ch in "\r\n\x00"):
                raise BadInput(f"{where}.{name}: contains a line break or NUL")
            if spaces and any(ch.isspace() for ch in value):
                raise BadInput(
                    f"{where}.{name}: contains a space, which a space-delimited file cannot hold"
                )
        try:
            phones.append(normalise_cn_mobile(record.phone))
        except InvalidPhone as exc:
            raise BadInput(f"{where}.phone: {exc}") from None
        if record.id_number is not None and not is_valid_id_number(record.id_number):
            raise BadInput(f"{where}.id_number: not 17 digits and a valid GB 11643 check digit")
        out.append(record)
    return out, phones


# ------------------------------------------------------------------------- small writer


@dataclass(slots=True)
class _Row:
    cells: list[str | int]
    record: int  # -1 for untrue
    spelling: str
    numeric_phone: bool = False
    ragged: bool = False


def _format_amount(rng: random.Random, amount: float) -> str:
    return rng.choice((f"{amount:.2f}", f"￥{amount:.2f}", f"{amount:g}", f"{amount:.2f}元"))


def _format_date(rng: random.Random, day: dt.date) -> str:
    return rng.choice(
        (
            day.isoformat(),
            f"{day.year}/{day.month}/{day.day}",
            day.strftime("%Y%m%d"),
            f"{day.year}年{day.month}月{day.day}日",
        )
    )


def _untrue_record(rng: random.Random, maker: RecipientMaker) -> tuple[LeakRecord, str]:
    """A fake row: impossible segment (10x-12x), and an ID number with a wrong check digit."""
    adcode, address = maker.address()
    phone = rng.choice(("10", "11", "12")) + f"{rng.randrange(10**9):09d}"
    born = _BIRTH_FIRST + dt.timedelta(days=rng.randrange((_BIRTH_LAST - _BIRTH_FIRST).days))
    body = f"{adcode}{born:%Y%m%d}{rng.randrange(1000):03d}"
    good = id_check_digit(body)
    wrong = rng.choice([c for c in _ID_CHECK if c != good])
    return LeakRecord(maker.name(), phone, address, body + wrong), phone


def _columns(records: Sequence[LeakRecord], layout: Layout) -> list[str]:
    roles = ["info"] if layout == "merged" else ["name", "phone", "address"]
    for optional in ("id_number", "waybill_no", "amount", "date"):
        if any(getattr(r, optional) is not None for r in records):
            roles.append(optional)
    return roles


def _row_cells(
    rng: random.Random,
    record: LeakRecord,
    digits: str,
    columns: Sequence[str],
    opts: LeakFileOptions,
    spelling: str,
) -> tuple[list[str | int], bool]:
    spaces = opts.delimiter == "spaces"
    numeric = (
        opts.fmt in ("xlsx", "xls")
        and spelling == "plain"
        and rng.random() < opts.numeric_phone_share
    )
    phone: str | int = (
        int(digits) if numeric else spell_phone(digits, spelling, spaces_allowed=not spaces)
    )
    cells: list[str | int] = []
    for role in columns:
        if role == "info":
            sep = rng.choice(("，", "/") if spaces else (" ", "  ", "，", ",", "；"))
            cells.append(sep.join((record.name, str(phone), record.address)))
        elif role == "phone":
            cells.append(phone)
        elif role == "amount":
            cells.append("" if record.amount is None else _format_amount(rng, record.amount))
        elif role == "date":
            cells.append("" if record.date is None else _format_date(rng, record.date))
        else:
            value = getattr(record, role)
            cells.append("" if value is None else value)
    if spaces:
        cells = [_MISSING_IN_SPACES if c == "" else c for c in cells]
    return cells, numeric and "info" not in columns


def _make_ragged(rng: random.Random, row: _Row, columns: Sequence[str], spaces: bool) -> None:
    """One cell more (a remark), or the last cell dropped when it is an optional field."""
    if columns[-1] in ("waybill_no", "amount", "date") and rng.random() < 0.5:
        row.cells.pop()
    else:
        remark = rng.choice(_REMARKS)
        row.cells.append(remark or (_MISSING_IN_SPACES if spaces else ""))
    row.ragged = True


def _header(rng: random.Random, columns: Sequence[str], kind: Header) -> tuple[str, ...] | None:
    if kind == "none":
        return None
    if kind == "plain":
        return tuple(_HEADERS[c][0] for c in columns)
    return tuple(rng.choice(_HEADERS[c][1:]) for c in columns)


def _text_line(
    rng: random.Random, cells: Sequence[str | int], delimiter: str, line_ending: str
) -> str:
    if delimiter == "spaces":
        gaps = [" " * rng.randint(2, 5) for _ in cells[1:]]
        parts = [str(cells[0])] if cells else []
        for gap, cell in zip(gaps, cells[1:], strict=True):
            parts += [gap, str(cell)]
        return "".join(parts) + line_ending
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator=line_ending).writerow(cells)
    return buffer.getvalue()


def _encode(text: str, encoding: str, what: str) -> bytes:
    try:
        if encoding == "utf-16":
            # Little-endian with its BOM on every machine, so a seed gives the same bytes.
            return b"\xff\xfe" + text.encode("utf-16-le")
        return text.encode(encoding)
    except UnicodeEncodeError:
        raise BadInput(f"{what}: has a character that {encoding} cannot write") from None


def _write_bytes(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file beside ``path`` and rename it, so a reader never
    finds half a file; on failure the temporary file is removed and ``path`` untouched."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        tmp.chmod(0o644)  # mkstemp makes it private; the file is meant to be read
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_text(
    path: Path,
    rng: random.Random,
    header: tuple[str, ...] | None,
    rows: Sequence[_Row],
    opts: LeakFileOptions,
) -> tuple[str, bool]:
    lines: list[str] = []
    if header is not None:
        lines.append(_text_line(rng, header, opts.delimiter, opts.line_ending))
    lines += [_text_line(rng, row.cells, opts.delimiter, opts.line_ending) for row in rows]
    truncated = False
    if opts.truncate_last and rows:
        copy = next((r for r in reversed(rows) if r.record >= 0), None)
        if copy is not None:
            full = _text_line(rng, copy.cells, opts.delimiter, "")
            if len(full) >= 2:
                lines.append(full[: rng.randint(1, len(full) - 1)])
                truncated = True
    try:
        data = _encode("".join(lines), opts.encoding, "leak file")
    except BadInput:
        skip = header is not None
        for row, line in zip(rows, lines[skip:], strict=False):  # name it, never its content
            _encode(line, opts.encoding, f"records[{row.record}]")
        raise
    _atomic_write(path, lambda tmp: _write_bytes(tmp, data))
    return (lines[-1] if truncated else ""), truncated


def _sheet_slices(n: int, sheets: int, max_rows: int | None) -> list[tuple[int, int]]:
    if max_rows is not None:
        sheets = max(sheets, math.ceil(n / max_rows))
    sheets = max(1, min(sheets, n)) if n else 1
    bounds = np.linspace(0, n, sheets + 1).round().astype(int).tolist()
    return list(itertools.pairwise(bounds))


def _write_xlsx(
    path: Path, header: tuple[str, ...] | None, rows: Sequence[_Row], slices: list[tuple[int, int]]
) -> None:
    import xlsxwriter  # type: ignore[import-untyped]

    def write(tmp: Path) -> None:
        workbook = xlsxwriter.Workbook(str(tmp), {"strings_to_numbers": False})
        workbook.set_properties({"created": _FIXED_CREATED})
        for s, (a, b) in enumerate(slices):
            sheet = workbook.add_worksheet(_SHEET_NAMES[s])
            offset = 0
            if header is not None:
                sheet.write_row(0, 0, header)
                offset = 1
            for r, row in enumerate(rows[a:b]):
                for c, cell in enumerate(row.cells):
                    if isinstance(cell, int):
                        sheet.write_number(r + offset, c, cell)
                    else:
                        sheet.write_string(r + offset, c, cell)
        workbook.close()

    _atomic_write(path, write)


def _write_xls(
    path: Path, header: tuple[str, ...] | None, rows: Sequence[_Row], slices: list[tuple[int, int]]
) -> None:
    try:
        import xlwt  # type: ignore[import-untyped]
    except ModuleNotFoundError:
        raise BadInput(
            "leak file option fmt xls: needs the xlwt package (a development dependency), "
            "which is not installed; write xlsx instead"
        ) from None

    def write(tmp: Path) -> None:
        book = xlwt.Workbook(encoding="utf-8")
        for s, (a, b) in enumerate(slices):
            sheet = book.add_sheet(_SHEET_NAMES[s])
            offset = 0
            if header is not None:
                for c, title in enumerate(header):
                    sheet.write(0, c, title)
                offset = 1
            for r, row in enumerate(rows[a:b]):
                for c, cell in enumerate(row.cells):
                    sheet.write(r + offset, c, cell)
        book.save(str(tmp))

    _atomic_write(path, write)


def _rows_of(
    rng: random.Random,
    recs: Sequence[LeakRecord],
    phones: Sequence[str],
    columns: Sequence[str],
    opts: LeakFileOptions,
) -> list[_Row]:
    """Every record once, the duplicates and untrue rows, shuffled, with their cells."""
    maker = RecipientMaker(rng.randrange(2**32))
    n = len(recs)
    order: list[int] = list(range(n))
    order += [rng.randrange(n) for _ in range(round(n * opts.duplicate_share))]
    order += [-1] * round(n * opts.untrue_share)
    rng.shuffle(order)
    spaces = opts.delimiter == "spaces" and opts.fmt in ("csv", "txt")
    kinds, weights = zip(*opts.phone_spellings.items(), strict=True)
    rows: list[_Row] = []
    for record in order:
        spelling = rng.choices(kinds, weights)[0]
        if record >= 0:
            source, digits = recs[record], phones[record]
        else:
            source, digits = _untrue_record(rng, maker)
        cells, numeric = _row_cells(rng, source, digits, columns, opts, spelling)
        row = _Row(cells, record, spelling, numeric)
        if rng.random() < opts.ragged_share:
            _make_ragged(rng, row, columns, spaces)
        rows.append(row)
    return rows


def write_leak_file(
    records: Iterable[LeakRecord],
    path: Path,
    *,
    seed: int,
    options: LeakFileOptions | None = None,
) -> LeakTruth:
    """Write ``records`` to ``path`` as a seller would, and return the file's truth.

    Rows come in a seeded shuffled order (sold files are merged from batches), with the
    options' duplicates, untrue rows and ragged rows among them. Every record is written
    at least once. The same records, seed and options give the same bytes. A record that
    cannot be written (an invalid phone or ID number, a character the encoding lacks) is a
    :class:`BadInput` naming its index and field, and nothing is written.
    """
    opts = (options or LeakFileOptions()).checked()
    spaces = opts.delimiter == "spaces" and opts.fmt in ("csv", "txt")
    recs, phones = _checked_records(records, spaces)
    if not recs:
        raise BadInput("records: a leak file needs at least one record")
    rng = random.Random(seed)
    ids = [r.id_number for r in recs]
    record_person, person_virtual = _persons_of(phones, ids)
    columns = _columns(recs, opts.layout)
    header = _header(rng, columns, opts.header)
    rows = _rows_of(rng, recs, phones, columns, opts)

    target = Path(path)
    text = opts.fmt in ("csv", "txt")
    truncated = False
    sheet_names: tuple[str, ...] = ()
    row_sheet = np.zeros(len(rows), dtype=np.int32)
    first_line = 2 if header is not None else 1
    row_line = np.arange(first_line, first_line + len(rows), dtype=np.int64)
    if text:
        _, truncated = _write_text(target, rng, header, rows, opts)
    else:
        slices = _sheet_slices(
            len(rows), opts.sheets, _XLS_MAX_ROWS - 1 if opts.fmt == "xls" else None
        )
        for s, (a, b) in enumerate(slices):
            row_sheet[a:b] = s
            row_line[a:b] = np.arange(first_line, first_line + (b - a))
        sheet_names = _SHEET_NAMES[: len(slices)]
        (_write_xlsx if opts.fmt == "xlsx" else _write_xls)(target, header, rows, slices)

    row_record = np.array([r.record for r in rows], dtype=np.int64)
    row_person = np.where(row_record >= 0, record_person[np.maximum(row_record, 0)], -1)
    row_kind = _row_kinds(row_person)
    if truncated:
        copy = next(r for r in reversed(rows) if r.record >= 0)
        row_record = np.append(row_record, copy.record)
        row_person = np.append(row_person, record_person[copy.record])
        row_kind = np.append(row_kind, np.uint8(RowKind.TRUNCATED))
        row_sheet = np.append(row_sheet, np.int32(0))
        row_line = np.append(row_line, first_line + len(rows))
    spellings = Counter(r.spelling for r in rows)
    return LeakTruth(
        fmt=opts.fmt,
        encoding=opts.encoding if text else None,
        delimiter=opts.delimiter if text else None,
        layout=opts.layout,
        header=header,
        columns=tuple(columns),
        sheets=sheet_names,
        line_ending=opts.line_ending if text else None,
        phone_spellings={k: spellings[k] for k in PHONE_SPELLINGS if spellings[k]},
        numeric_phones=sum(r.numeric_phone for r in rows),
        ragged_rows=sum(r.ragged for r in rows),
        row_record=row_record,
        row_person=row_person,
        row_kind=row_kind,
        row_sheet=row_sheet,
        row_line=row_line,
        record_person=record_person,
        record_phone=np.array([int(p) for p in phones], dtype=np.int64),
        record_id17=np.array([int(i[:17]) if i else -1 for i in ids], dtype=np.int64),
        person_virtual=np.array(person_virtual, dtype=np.bool_),
    )


# -------------------------------------------------------------------------- bulk writer

# Bulk waybill prefixes: this carrier's, then others'; all followed by 12 digits.
_BULK_WAYBILL_PREFIXES: Final = ("PG", "PG", "PG", "SF", "YT1", "75", "JT0")
# Shares of rows that carry each optional field in a bulk file.
_BULK_FIELD_SHARE: Final[Mapping[str, float]] = {"waybill_no": 0.9, "amount": 0.6, "date": 0.7}
_BULK_FIRST_DAY: Final = dt.date(2016, 9, 1)
U8 = npt.NDArray[np.uint8]
Rows = npt.NDArray[np.intp]


def _replace_rows(base: pa.Array, rows: Rows, values: pa.Array) -> pa.Array:
    """``base`` with ``base[rows[k]]`` replaced by ``values[k]``, by one take (Arrow's
    ``if_else`` over long strings is many times slower)."""
    index = np.arange(len(base))
    index[rows] = len(base) + np.arange(len(rows))
    return pa.concat_arrays([base, values]).take(pa.array(index))


def _by_group(codes: U8, groups: int, make: Callable[[int, Rows], pa.Array]) -> pa.Array:
    """One array, row ``i`` made by ``make(codes[i], rows of that code)``: each group's
    rows are transformed together, then put back in row order with a single take."""
    order = np.argsort(codes, kind="stable")  # a radix sort on uint8 codes
    counts = np.bincount(codes, minlength=groups)
    parts: list[pa.Array] = []
    start = 0
    for group, count in enumerate(counts.tolist()):
        if count:
            parts.append(make(group, order[start : start + count]))
        start += count
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    return pa.concat_arrays(parts).take(pa.array(inverse))


def _ascii(numbers: I64) -> pa.Array:
    """Decimal digits of integers as Arrow binary, which is the same bytes in every codec
    the bulk writer takes (they all keep ASCII as ASCII)."""
    return pc.cast(pa.array(numbers), pa.string()).cast(pa.binary())


class _Encoded:
    """Texts of the bulk file's pools, encoded once, so that chunks are joined as bytes
    and written without decoding and re-encoding a gigabyte of text."""

    def __init__(self, codec: str) -> None:
        self.codec = codec

    def array(self, texts: Iterable[str]) -> pa.Array:
        return pa.array([t.encode(self.codec) for t in texts], pa.binary())

    def scalar(self, text: str) -> pa.Scalar:
        return pa.scalar(text.encode(self.codec), pa.binary())

    @functools.cached_property
    def fullwidth_groups(self) -> tuple[pa.Array, pa.Array]:
        """Full-width spellings of every 3-digit and 4-digit group: a phone is three of
        them, and three takes are ten times faster than replacing digit by digit."""
        four = [f"{i:04d}".translate(_FULLWIDTH) for i in range(10_000)]
        return self.array(g[1:] for g in four[:1000]), self.array(four)


def _spelled_phones(
    numbers: I64, codes: U8, spellings: Sequence[str], spaces: bool, encoded: _Encoded
) -> pa.Array:
    """:func:`spell_phone` over 11-digit numbers, one spelling per row, as encoded bytes."""
    digits = pc.cast(pa.array(numbers), pa.string())
    gap = "-" if spaces else " "

    def make(group: int, rows: Rows) -> pa.Array:
        spelling = spellings[group]
        if spelling == "fullwidth":
            three, four = encoded.fullwidth_groups
            sub_numbers = numbers[rows]
            return pc.binary_join_element_wise(
                three.take(pa.array(sub_numbers // 10**8)),
                four.take(pa.array(sub_numbers // 10**4 % 10**4)),
                four.take(pa.array(sub_numbers % 10**4)),
                b"",
            )
        sub = digits.take(pa.array(rows))
        if spelling in ("spaced", "dashed"):
            sep = gap if spelling == "spaced" else "-"
            parts = (pc.utf8_slice_codeunits(sub, a, b) for a, b in ((0, 3), (3, 7), (7, 11)))
            sub = pc.binary_join_element_wise(*parts, sep)
        elif spelling in ("plus86", "0086", "86"):
            prefix = {"plus86": f"+86{gap}", "0086": "0086", "86": "86"}[spelling]
            sub = pc.binary_join_element_wise(prefix, sub, "")
        return sub.cast(pa.binary())

    return _by_group(codes, len(spellings), make)


class _BulkWriter:
    """The plan of a bulk file (who is on which row) and the chunk-by-chunk writing of it.

    The plan is drawn first, whole: persons with distinct phones and ID numbers, then the
    rows (each person once, duplicates of random persons, untrue rows) in a random order.
    Each chunk then draws only what varies per row (spellings, untrue content, optional
    fields) from the same seeded generator, so the bytes depend on the seed alone.
    """

    def __init__(
        self, rows: int, seed: int, opts: LeakFileOptions, id_share: float, pool: int
    ) -> None:
        self.opts = opts
        self.id_share = id_share
        self.pool = pool
        self.chunk_rows = 500_000
        self.rng = rng = np.random.default_rng([seed, 0xB01C])
        self.spaces = opts.delimiter == "spaces"
        self.truncated = opts.truncate_last and rows >= 2
        self.body_rows = rows - self.truncated
        n_untrue = round(self.body_rows * opts.untrue_share)
        n_dup = round(self.body_rows * opts.duplicate_share)
        self.n_persons = n = self.body_rows - n_untrue - n_dup
        if n < 1:
            raise BadInput("bulk leak file shares: duplicates and untrue rows leave no person")

        d = districts()
        pool_where = rng.integers(0, len(d), pool)
        self.pool_names = sample_names(rng, pool).tolist()
        self.pool_addresses = _addresses(rng, pool_where)
        self.pool_adcodes = d.adcode[pool_where].astype(np.int64)
        self.prefixes = mobile_segments().prefix[_subscriber_prefixes()].astype(np.int64)

        self.person_name = rng.integers(0, pool, n).astype(np.int32)
        self.person_address = rng.integers(0, pool, n).astype(np.int32)
        self.person_phone = _unique_redrawn(self._phones(n), self._phones)
        with_id = np.flatnonzero(rng.random(n) < id_share)
        adcodes = self.pool_adcodes[self.person_address[with_id]]
        self.person_body = np.full(n, -1, dtype=np.int64)
        self.person_body[with_id] = _unique_redrawn(
            _id_bodies(rng, adcodes),
            lambda k: _id_bodies(rng, adcodes[rng.integers(0, len(adcodes), k)]),
        )
        order = np.concatenate(
            (
                np.arange(n, dtype=np.int64),
                rng.integers(0, n, n_dup),
                np.full(n_untrue, -1, dtype=np.int64),
            )
        )
        self.row_person = order[rng.permutation(self.body_rows)]

        self.columns = ["info"] if opts.layout == "merged" else ["name", "phone", "address"]
        if id_share > 0:
            self.columns.append("id_number")
        self.columns += list(_BULK_FIELD_SHARE)
        self.header = _header(random.Random(seed), self.columns, opts.header)
        self.spellings = [k for k, w in opts.phone_spellings.items() if w > 0]
        weights = np.array([opts.phone_spellings[k] for k in self.spellings], dtype=np.float64)
        self.weights = weights / weights.sum()
        self.spelling_counts = np.zeros(len(self.spellings), dtype=np.int64)
        self.ragged = 0
        self.last_line = b""

    def _phones(self, k: int) -> I64:
        rng = self.rng
        prefix = self.prefixes[rng.integers(0, len(self.prefixes), k)]
        phones: I64 = prefix * 10_000 + rng.integers(0, 10_000, k)
        return phones

    def encode_pools(self, codec: str) -> None:
        """Everything a chunk takes from, in the file's codec."""
        rng = self.rng
        enc = self.encoded = _Encoded(codec)
        self.names = enc.array(self.pool_names)
        self.addresses = enc.array(self.pool_addresses)
        self.missing = enc.scalar(_MISSING_IN_SPACES if self.spaces else "")
        self.delimiter = ("  " if self.spaces else self.opts.delimiter).encode(codec)
        self.waybill_prefixes = enc.array(_BULK_WAYBILL_PREFIXES)
        prices = np.round(rng.gamma(2.0, 60.0, 5_000) + 9.9, 2)
        self.amounts = enc.array(f"{x:.2f}" for x in prices.tolist())
        days = [_BULK_FIRST_DAY + dt.timedelta(days=i) for i in range(92)]
        self.dates = enc.array([f"{x:%Y-%m-%d}" for x in days] + [f"{x:%Y/%m/%d}" for x in days])
        self.remarks = enc.array(r or (_MISSING_IN_SPACES if self.spaces else "") for r in _REMARKS)
        self.merged_seps = enc.array(("，", "/") if self.spaces else (" ", "，", "；"))
        self.checks = enc.array(_ID_CHECK)

    def _pick(self, values: pa.Array, k: int) -> pa.Array:
        return values.take(pa.array(self.rng.integers(0, len(values), k)))

    def _optional(self, values: pa.Array, share: float) -> pa.Array:
        present = pa.array(self.rng.random(len(values)) < share)
        return pc.if_else(present, values, self.missing)

    def _id_cells(self, true: npt.NDArray[np.bool_], person: I64, address: I64) -> pa.Array:
        """Persons' ID numbers where they have one; on untrue rows, ``id_share`` of them
        get an ID number with a wrong check digit."""
        rng = self.rng
        body = np.where(true, self.person_body[person], -1)
        untrue = np.flatnonzero(~true)
        fake = untrue[rng.random(len(untrue)) < self.id_share]
        body[fake] = _id_bodies(rng, self.pool_adcodes[address[fake]])
        rows = np.flatnonzero(body >= 0)
        check = _id_check_index(body[rows])
        spoil = ~true[rows]
        check[spoil] = (check[spoil] + rng.integers(1, 11, int(spoil.sum()))) % 11
        ids = pc.binary_join_element_wise(
            _ascii(body[rows]), self.checks.take(pa.array(check)), b""
        )
        where = np.zeros(len(true), dtype=np.int64)
        where[rows] = np.arange(1, len(rows) + 1)
        blank = pa.array([self.missing.as_py()], pa.binary())
        return pa.concat_arrays([blank, ids]).take(pa.array(where))

    def chunk_lines(self, start: int, size: int) -> tuple[pa.Array, npt.NDArray[np.bool_]]:
        """The encoded lines of rows ``start`` to ``start + size``, and which are true rows."""
        rng, pool = self.rng, self.pool
        who = self.row_person[start : start + size]
        m = len(who)
        true = who >= 0
        person = np.maximum(who, 0)
        name = np.where(true, self.person_name[person], rng.integers(0, pool, m))
        address = np.where(true, self.person_address[person], rng.integers(0, pool, m))
        bad_phone = rng.integers(10, 13, m) * 10**9 + rng.integers(0, 10**9, m)
        phone = np.where(true, self.person_phone[person], bad_phone)
        code = rng.choice(len(self.spellings), size=m, p=self.weights).astype(np.uint8)
        self.spelling_counts += np.bincount(code, minlength=len(self.spellings))
        phone_text = _spelled_phones(phone, code, self.spellings, self.spaces, self.encoded)
        names = self.names.take(pa.array(name))
        addresses = self.addresses.take(pa.array(address))
        cells: list[pa.Array]
        if self.opts.layout == "merged":
            seps = self._pick(self.merged_seps, m)
            cells = [pc.binary_join_element_wise(names, phone_text, addresses, seps)]
        else:
            cells = [names, phone_text, addresses]
        if self.id_share > 0:
            cells.append(self._id_cells(true, person, address))
        serial = _ascii(rng.integers(10**11, 10**12, m))
        waybills = pc.binary_join_element_wise(self._pick(self.waybill_prefixes, m), serial, b"")
        cells.append(self._optional(waybills, _BULK_FIELD_SHARE["waybill_no"]))
        cells.append(self._optional(self._pick(self.amounts, m), _BULK_FIELD_SHARE["amount"]))
        cells.append(self._optional(self._pick(self.dates, m), _BULK_FIELD_SHARE["date"]))
        # Ragged rows: one cell more than the header, a remark after the last cell.
        extra = np.flatnonzero(rng.random(m) < self.opts.ragged_share)
        self.ragged += len(extra)
        last = cells[-1].take(pa.array(extra))
        remarks = self._pick(self.remarks, len(extra))
        cells[-1] = _replace_rows(
            cells[-1], extra, pc.binary_join_element_wise(last, remarks, self.delimiter)
        )
        return pc.binary_join_element_wise(*cells, self.delimiter), true

    def write(self, tmp: Path, progress: Progress | None) -> None:
        opts = self.opts
        codec = "utf-8" if opts.encoding == "utf-8-sig" else opts.encoding
        self.encode_pools(codec)
        eol = opts.line_ending.encode(codec)
        with tmp.open("wb") as out:
            if opts.encoding == "utf-8-sig":
                out.write(b"\xef\xbb\xbf")
            if self.header is not None:
                out.write(self.delimiter.join(h.encode(codec) for h in self.header) + eol)
            for start in range(0, self.body_rows, self.chunk_rows):
                lines, true = self.chunk_lines(start, self.chunk_rows)
                offsets = pa.array([0, len(lines)], pa.int32())
                text = pc.binary_join(pa.ListArray.from_arrays(offsets, lines), eol)
                out.write(text[0].as_buffer())
                out.write(eol)
                if self.truncated and true.any():
                    self.last_line = lines[int(np.flatnonzero(true)[-1])].as_py()
                if progress is not None:
                    progress(start + len(lines))
            # The cut falls between characters, as when a seller's export is cut short.
            last = self.last_line.decode(codec)
            if self.truncated and len(last) >= 2:
                out.write(last[: int(self.rng.integers(1, len(last)))].encode(codec))
                if progress is not None:
                    progress(self.body_rows + 1)
            else:
                self.truncated = False

    def truth(self) -> LeakTruth:
        opts = self.opts
        row_person = self.row_person
        row_kind = _row_kinds(row_person)
        if self.truncated:
            row_person = np.append(row_person, row_person[np.flatnonzero(row_person >= 0)[-1]])
            row_kind = np.append(row_kind, np.uint8(RowKind.TRUNCATED))
        first_line = 2 if self.header is not None else 1
        counts = zip(self.spellings, self.spelling_counts.tolist(), strict=True)
        return LeakTruth(
            fmt=opts.fmt,
            encoding=opts.encoding,
            delimiter=opts.delimiter,
            layout=opts.layout,
            header=self.header,
            columns=tuple(self.columns),
            sheets=(),
            line_ending=opts.line_ending,
            phone_spellings={k: c for k, c in counts if c},
            numeric_phones=0,
            ragged_rows=self.ragged,
            row_record=row_person,
            row_person=row_person,
            row_kind=row_kind,
            row_sheet=np.zeros(len(row_person), dtype=np.int32),
            row_line=np.arange(first_line, first_line + len(row_person), dtype=np.int64),
            record_person=np.arange(self.n_persons, dtype=np.int64),
            record_phone=self.person_phone,
            record_id17=self.person_body,
            person_virtual=np.zeros(self.n_persons, dtype=np.bool_),
        )


def write_bulk_leak(
    path: Path,
    rows: int,
    *,
    seed: int,
    options: LeakFileOptions | None = None,
    id_share: float = 0.35,
    chunk_rows: int = 500_000,
    pool: int = 200_000,
    progress: Progress | None = None,
) -> LeakTruth:
    """Write ``rows`` data rows of delimited text fast, with the same truth as the small writer.

    Columns are name, phone, address (or the three merged into one cell with the
    ``merged`` layout), ID number (``id_share`` of persons), waybill number, amount and
    date, each optional field present on most rows. Names and addresses are drawn from
    pools of ``pool`` synthetic values (people share names; the persons are told apart by
    phone and ID number, which are distinct); phones come from real segments but, unlike
    :func:`synthetic_records`, are not tied to the address's province. The options' header,
    delimiter, encoding (UTF-8 with or without BOM, GBK, GB18030), line ending, phone
    spellings and duplicate, untrue and ragged shares apply; XLSX, XLS, UTF-16 and ASCII
    commas inside merged cells are left to :func:`write_leak_file`. ``progress`` is
    called with the rows written so far after each chunk.
    """
    opts = (options or LeakFileOptions()).checked()
    if opts.fmt not in ("csv", "txt"):
        raise BadInput("bulk leak file option fmt: the bulk writer writes csv or txt only")
    if opts.encoding not in _BULK_ENCODINGS:
        raise BadInput(
            f"bulk leak file option encoding: must be one of {', '.join(_BULK_ENCODINGS)}"
        )
    if rows < 1 or chunk_rows < 1 or pool < 1:
        raise BadInput("bulk leak file rows, chunk_rows and pool: must be at least 1")
    if not 0.0 <= id_share <= 1.0:
        raise BadInput("bulk leak file id_share: must be between 0 and 1")
    writer = _BulkWriter(rows, seed, opts, id_share, pool)
    writer.chunk_rows = chunk_rows
    _atomic_write(Path(path), lambda tmp: writer.write(tmp, progress))
    return writer.truth()
