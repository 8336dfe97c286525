"""What each column of a leaked file holds, decided on a sample and reported with confidence.

A column's role is the recogniser that accepts most of its sampled cells, helped by the
header's context words when there is a header; a column whose cells hold several values
(``张三 13812345678 湖北省荆州市…``) is ``merged``; anything else is ``unknown`` and is not
used. Every decision keeps its evidence (the share of cells each role accepted), because
an investigator has to be able to say why a column was read as phones.

The first row is a header when its cells do not recognise as values but do score as context
words, or are text over value columns (a "联系方式" over a column of mobile numbers).
Pure: rows in, a :class:`Classification` out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from parcelguard.core.masking import mask_address, mask_name, mask_phone

if TYPE_CHECKING:
    from parcelguard.forensics.recognisers.base import Recogniser

MERGED = "merged"
UNKNOWN = "unknown"
# Roles whose values are never words: a header cell over them cannot be one of them.
VALUE_ROLES = frozenset(
    {"mobile", "fixed_line", "id_number", "virtual_number", "waybill", "amount", "date"}
)
# Roles that make a person (Art. 11) or locate one; a merged cell must hold one of the first.
IDENTIFYING = ("mobile", "id_number", "virtual_number")
# On equal evidence the more specific role wins (a checksum beats a pattern beats a word list).
PRIORITY = (
    "id_number",
    "virtual_number",
    "mobile",
    "fixed_line",
    "waybill",
    "date",
    "amount",
    "address",
    "name",
)
ROLE_SHARE = 0.5  # a role needs at least this share of a column's non-empty sampled cells
HEADER_ROLE_CONTEXT = 0.8  # a header this clear names the role even over poor values
MERGED_SHARE = 0.3
HEADER_WEIGHT = 0.1


@dataclass(frozen=True, slots=True)
class ColumnClass:
    """One column's role and how sure we are; ``shares`` is the evidence per role."""

    index: int
    header: str | None
    role: str
    confidence: float
    roles: tuple[str, ...] = ()
    shares: dict[str, float] = field(default_factory=dict)
    context: float = 0.0
    sheet: str | None = None

    def as_dict(self, recognisers: Sequence[Recogniser]) -> dict[str, object]:
        """For reports: the header masked if it looks like data, never the plaintext."""
        return {
            "index": self.index,
            "header": None if self.header is None else masked_header(self.header, recognisers),
            "role": self.role,
            "confidence": round(self.confidence, 3),
            "merged_roles": list(self.roles) if self.role == MERGED else None,
            "evidence": {role: round(share, 3) for role, share in self.shares.items() if share},
            "header_context": round(self.context, 3),
            "sheet": self.sheet,
        }


@dataclass(frozen=True, slots=True)
class Classification:
    """The columns of one table (a text file or a sheet) and whether line one is a header."""

    header: bool
    header_reason: str
    columns: tuple[ColumnClass, ...]
    sampled_rows: int

    def merged(self) -> list[ColumnClass]:
        return [c for c in self.columns if c.role == MERGED]


def classify(
    rows: Sequence[Sequence[str | None]],
    recognisers: Sequence[Recogniser],
    *,
    width: int,
    sheet: str | None = None,
) -> Classification:
    """Classify ``width`` columns from sampled ``rows``; ``rows[0]`` is the table's first row."""
    if not rows or width == 0:
        return Classification(False, "no rows", (), 0)
    first = [_cell(rows[0], j) for j in range(width)]
    body = rows[1:] if len(rows) > 1 else rows
    plain = [_column(body, j, recognisers, None, sheet) for j in range(width)]
    header, reason = _is_header(first, plain, recognisers)
    if header:
        columns = tuple(_column(body, j, recognisers, first[j], sheet) for j in range(width))
        return Classification(True, reason, columns, len(body))
    # Without a header the first row is data: classify it along with the rest.
    columns = tuple(_column(rows, j, recognisers, None, sheet) for j in range(width))
    return Classification(False, reason, columns, len(rows))


# What sellers put in an empty cell; it says nothing about the column.
PLACEHOLDERS = frozenset({"无", "空", "暂无", "null", "none", "nil", "n/a", "na", "nan", "未知"})


def _cell(row: Sequence[str | None], j: int) -> str | None:
    value = row[j] if j < len(row) else None
    if value is None:
        return None
    value = value.strip()
    if not any(ch.isalnum() for ch in value) or value.casefold() in PLACEHOLDERS:
        return None
    return value


def _column(
    rows: Sequence[Sequence[str | None]],
    j: int,
    recognisers: Sequence[Recogniser],
    header: str | None,
    sheet: str | None,
) -> ColumnClass:
    cells = [c for c in (_cell(row, j) for row in rows) if c is not None]
    contexts: dict[str, float] = (
        {r.role: r.context_score(header) for r in recognisers} if header else {}
    )
    if not cells:
        return ColumnClass(j, header, UNKNOWN, 0.0, sheet=sheet)
    shares: dict[str, float] = {r.role: _share(cells, r) for r in recognisers}

    def rank(role: str) -> tuple[float, int]:
        return (shares[role] + HEADER_WEIGHT * contexts.get(role, 0.0), -_priority(role))

    ranked = sorted(shares, key=rank, reverse=True)
    best = ranked[0]
    if shares[best] >= ROLE_SHARE:
        confidence = min(1.0, shares[best] + HEADER_WEIGHT * contexts.get(best, 0.0))
        return ColumnClass(j, header, best, confidence, (), shares, contexts.get(best, 0.0), sheet)
    found: dict[str, float] = {r.role: _find_share(cells, r) for r in recognisers}
    inside = [role for role in PRIORITY if found.get(role, 0.0) >= MERGED_SHARE]
    # Several values in a cell, or one identifier with words around it ("电话：138…").
    if any(role in IDENTIFYING for role in inside):
        confidence = sum(found[role] for role in inside) / len(inside)
        return ColumnClass(j, header, MERGED, confidence, tuple(inside), found, 0.0, sheet)
    named = [role for role in contexts if contexts[role] >= HEADER_ROLE_CONTEXT]
    if named:
        role = max(named, key=lambda r: (contexts[r], shares[r], -_priority(r)))
        confidence = 0.5 * contexts[role] + 0.5 * shares[role]
        return ColumnClass(j, header, role, confidence, (), shares, contexts[role], sheet)
    return ColumnClass(j, header, UNKNOWN, 1.0 - shares[best], (), shares, 0.0, sheet)


def _priority(role: str) -> int:
    return PRIORITY.index(role) if role in PRIORITY else len(PRIORITY)


def _share(cells: Sequence[str], recogniser: Recogniser) -> float:
    hits = sum(1 for cell in cells if recogniser.normalise(cell) is not None)
    return hits / len(cells)


def _find_share(cells: Sequence[str], recogniser: Recogniser) -> float:
    hits = sum(1 for cell in cells if recogniser.find(cell))
    return hits / len(cells)


def _is_header(
    first: Sequence[str | None],
    plain: Sequence[ColumnClass],
    recognisers: Sequence[Recogniser],
) -> tuple[bool, str]:
    """Line one is a header unless a cell of it is a value of its column's role.

    Votes for a header: a cell that is a context word, or a cell without a digit over a
    column of values (an untrue first row still has digits in its phone cell). One vote
    over a value column is enough; context words alone need half the row.
    """
    by_role: dict[str, Recogniser] = {r.role: r for r in recognisers}
    context_votes = over_values = data_votes = present = 0
    for cell, column in zip(first, plain, strict=True):
        if cell is None:
            continue
        present += 1
        recogniser = by_role.get(column.role)
        is_value = recogniser is not None and recogniser.normalise(cell) is not None
        if column.role == MERGED:
            is_value = any(by_role[role].find(cell) for role in column.roles if role in IDENTIFYING)
        if column.role in VALUE_ROLES | {MERGED} and is_value:
            data_votes += 1
        elif column.role in VALUE_ROLES and not _has_digit(cell):
            over_values += 1
        elif max((r.context_score(cell) for r in recognisers), default=0.0) >= 0.5:
            context_votes += 1
    if present == 0:
        return False, "the first row is empty"
    if data_votes:
        return False, f"{data_votes} cell(s) of the first row recognise as values"
    if over_values or context_votes >= math.ceil(present / 2):
        return True, (
            f"of {present} cells of the first row, {over_values} are words over value "
            f"columns and {context_votes} are context words"
        )
    return False, f"only {context_votes} of {present} cells of the first row are context words"


def _has_digit(text: str) -> bool:
    return any(ch.isdigit() for ch in text)


def masked_header(header: str, recognisers: Sequence[Recogniser]) -> str:
    """A header as reported: itself when it is a context word, masked when it looks like data.

    A file without a real header can still have a first row that slipped through as one;
    its "header" is then a person's data and must not reach a report.
    """
    if any(r.context_score(header) >= 0.5 for r in recognisers):
        return header
    for recogniser in sorted(recognisers, key=lambda r: _priority(r.role)):
        if recogniser.role in {"amount", "date"}:
            continue
        value = recogniser.normalise(header)
        if value is None and not recogniser.find(header):
            continue
        if recogniser.role in {"mobile", "virtual_number"} and value is not None:
            return mask_phone(value)
        if recogniser.role == "name":
            return mask_name(header)
        if recogniser.role == "address":
            return mask_address(header)
        return "*" * len(header)
    return header
