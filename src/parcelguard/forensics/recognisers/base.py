"""The shape every recogniser shares, after Presidio's ``PatternRecognizer``.

A recogniser knows one role (a mobile number, an ID number, a district...). It answers four
questions about text, two per speed:

* ``normalise(cell)`` and ``find(text)`` in Python, for sampling, tests and explanations;
* ``expr(cell)`` and ``extract(text)`` as Polars expressions, for the bulk of a file, because
  ten million rows in a minute leave no room for a Python call per cell.

The two speeds must give the same answers, so they are built from the same parts: one
candidate pattern written in the syntax Python's ``re`` and Rust's ``regex`` share (ASCII
classes only, no look-around; ``\\b`` is the ASCII word boundary in both), and a whole-cell
validator that exists once in Python and once as an expression. ``find`` and ``extract`` both
run the candidate pattern and keep the candidates the validator accepts, so they cannot drift
apart; tests check ``normalise`` against ``expr`` on generated spellings.

Nothing here reads a file at import time; reference tables are loaded on first use.
"""

from __future__ import annotations

import re
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Final, Literal, get_args

import polars as pl

Role = Literal[
    "mobile",
    "fixed_line",
    "id_number",
    "name",
    "address",
    "waybill",
    "virtual_number",
    "amount",
    "date",
]
ROLES: Final[tuple[Role, ...]] = get_args(Role)

# Score added to a find when one of the role's context words stands just before it
# (Presidio's context enhancement); the window is in characters of the text.
CONTEXT_BOOST: Final = 0.1
CONTEXT_WINDOW: Final = 12

# Full-width ASCII (U+FF01-U+FF5E), the ideographic space and the full-width yuan sign fold
# one-to-one onto ASCII (and ¥), so candidate patterns can stay ASCII while offsets into the
# original text stay valid.
_WIDE: Final = [chr(c) for c in range(0xFF01, 0xFF5F)] + ["\u3000", "\uffe5"]
_NARROW: Final = [chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)] + [" ", "\u00a5"]
_WIDTH_FOLD: Final = str.maketrans(dict(zip(_WIDE, _NARROW, strict=True)))
# Header words are compared without case, width, spaces or punctuation ("手机号码:", "Tel.").
_HEADER_NOISE: Final = re.compile(r"[\s\W_]+")
_LATIN_TOKEN: Final = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True, slots=True)
class Found:
    """One recognised value: where it is, its canonical form, and why it was accepted.

    ``reason`` is a short code (``mobile_prefix``, ``gb11643_checksum``) and never carries
    the value, so it can go into reports and logs; ``normalised`` is personal data.
    """

    role: Role
    start: int
    end: int
    normalised: str
    score: float
    reason: str

    def __repr__(self) -> str:  # the value stays out of tracebacks and logs
        return (
            f"Found(role={self.role!r}, start={self.start}, end={self.end}, "
            f"score={self.score:.2f}, reason={self.reason!r})"
        )


def fold_width(text: str) -> str:
    """Full-width ASCII and the ideographic space as ASCII, length preserved."""
    return text.translate(_WIDTH_FOLD)


def nfkc_series(cells: pl.Series) -> pl.Series:
    """NFKC on a batch, computed only for cells with non-ASCII characters.

    Polars' ``str.normalize`` costs ~0.3 µs even on an ASCII cell (where it changes nothing);
    most cells of a leaked file are ASCII digits, so only the others are normalised.
    """
    cells = cells.cast(pl.String)
    mask = _non_ascii(cells)
    if not mask.any():
        return cells
    return cells.scatter(mask.arg_true(), cells.filter(mask).str.normalize("NFKC"))


def fold_width_series(cells: pl.Series) -> pl.Series:
    """:func:`fold_width` on a batch; pure-ASCII cells are not touched."""
    cells = cells.cast(pl.String)
    mask = _non_ascii(cells)
    if not mask.any():
        return cells
    return cells.scatter(mask.arg_true(), cells.filter(mask).str.replace_many(_WIDE, _NARROW))


def strip_series(cells: pl.Series) -> pl.Series:
    """``str.strip()`` on a batch (Polars' default strips a narrower set of characters)."""
    return cells.str.strip_chars(PY_SPACE_CHARS)


def keep(values: pl.Series, mask: pl.Series) -> pl.Series:
    """``values`` where ``mask`` holds, null elsewhere (and where ``mask`` is null)."""
    return pl.select(pl.when(mask).then(values)).to_series().alias(values.name)


def batch_expr(cell: pl.Expr, function: Callable[[pl.Series], pl.Series]) -> pl.Expr:
    """An elementwise expression running ``function`` once per batch of cells.

    Recognisers compute on materialised batches so every intermediate column is computed
    once: in an eager ``select`` Polars does not share repeated sub-expressions, and a
    validator that looks at its input five times would then clean it five times.
    """
    return cell.map_batches(function, return_dtype=pl.String, is_elementwise=True)


def _non_ascii(series: pl.Series) -> pl.Series:
    return (series.str.len_bytes() != series.str.len_chars()).fill_null(value=False)


def nfkc(text: str) -> str:
    """NFKC, with the same ASCII shortcut as :func:`nfkc_expr` (the result is identical)."""
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


def rust_pattern(pattern: str) -> str:
    """A pattern in the shared syntax, for Rust's ``regex`` (used by Polars).

    Python compiles shared patterns with ``re.ASCII``, so ``\\b`` is the ASCII word
    boundary; Rust's ``\\b`` is Unicode-aware (a Han character counts as a word character),
    so it becomes ``(?-u:\\b)`` there. Patterns use explicit classes like ``[0-9]`` and
    ``[ \\t]``, never ``\\d`` or ``\\s``, whose meaning differs between the engines.
    """
    return pattern.replace(r"\b", r"(?-u:\b)")


@dataclass(frozen=True, slots=True)
class WholeCell:
    """One whole-cell pattern in both engines, read the same way: Python's ``re`` on one
    cleaned cell (NFKC, stripped) and Polars' ``extract_groups`` on a column of them."""

    python: re.Pattern[str]
    rust: str

    @classmethod
    def of(cls, pattern: str) -> WholeCell:
        return cls(re.compile(pattern, re.ASCII), f"^(?:{rust_pattern(pattern)})$")

    def match(self, cell: str) -> re.Match[str] | None:
        return self.python.fullmatch(nfkc(cell).strip())

    def groups(self, cells: pl.Series) -> pl.Series:
        return strip_series(nfkc_series(cells)).str.extract_groups(self.rust)


def python_pattern(pattern: str) -> re.Pattern[str]:
    """A pattern in the shared syntax, for Python's ``re``."""
    return re.compile(pattern, re.ASCII)


def alternation(words: Sequence[str]) -> str:
    """A regex alternation of literal words, longest first so the longest one wins."""
    return "|".join(re.escape(w) for w in sorted(set(words), key=lambda w: (-len(w), w)))


def normalise_header(header: str) -> str:
    """A header folded for comparison with context words: NFKC, no case, no punctuation."""
    return _HEADER_NOISE.sub("", unicodedata.normalize("NFKC", header)).casefold()


class Recogniser(ABC):
    """One role's patterns, context words and validation.

    Subclasses set :attr:`role`, :attr:`context_words`, :attr:`score` and
    :attr:`candidates` (a pattern in the shared syntax, see :func:`rust_pattern`) and
    implement :meth:`normalise` and :meth:`expr`; :meth:`find` and :meth:`extract` follow.
    """

    role: ClassVar[Role]
    # Header and context words, Chinese and English, compared folded (normalise_header).
    context_words: ClassVar[tuple[str, ...]]
    # Score of a validated find without context; checksummed roles score high, names low.
    score: ClassVar[float]
    # Candidates in free text, in the shared syntax; normalise() decides which are real.
    candidates: str

    @abstractmethod
    def normalise(self, cell: str) -> str | None:
        """The canonical form of a whole cell, or ``None`` if the cell is not this role."""

    @abstractmethod
    def normalise_batch(self, cells: pl.Series) -> pl.Series:
        """:meth:`normalise` on a batch of cells (Utf8), null where it would be ``None``."""

    def expr(self, cell: pl.Expr) -> pl.Expr:
        """:meth:`normalise` on a column of cells (Utf8), null where it would be ``None``."""
        return batch_expr(cell, self.normalise_batch)

    def reason(self, normalised: str) -> str:
        """The short code saying why a value was accepted (never the value itself)."""
        return self.role

    def rejection(self, cell: str) -> str | None:
        """Why a cell shaped like this role is untrue (a reason code), or None.

        None both for a valid cell and for one that is not shaped like the role at all;
        roles with a checksum or a reference table (mobile, ID number) override this, so
        ingest can count untrue records per reason (Art. 11 of 法释〔2017〕10号).
        """
        return None

    def rejection_batch(self, cells: pl.Series) -> pl.Series:
        """:meth:`rejection` on a batch: a reason code or null per cell."""
        return pl.Series(cells.name, [None] * len(cells), dtype=pl.String)

    def rejection_expr(self, cell: pl.Expr) -> pl.Expr:
        """:meth:`rejection` on a column: a reason code or null."""
        return batch_expr(cell, self.rejection_batch)

    def score_of(self, normalised: str) -> float:
        """The score of an accepted value before context; subclasses may grade values."""
        return self.score

    def find(self, text: str) -> list[Found]:
        """Every occurrence of this role in free text, such as a merged cell.

        Offsets refer to ``text`` itself: candidates are searched in a width-folded copy
        of the same length.
        """
        folded = fold_width(text)
        found: list[Found] = []
        for match in self._python_candidates().finditer(folded):
            normalised = self.normalise(match.group())
            if normalised is None:
                continue
            score = self.score_of(normalised)
            reason = self.reason(normalised)
            if self._context_before(folded, match.start()):
                score = min(1.0, score + CONTEXT_BOOST)
                reason += "+context"
            found.append(
                Found(self.role, match.start(), match.end(), normalised, round(score, 4), reason)
            )
        return found

    def extract(self, text: pl.Expr) -> pl.Expr:
        """The first occurrence in free text, canonical, or null: :meth:`find` in bulk."""
        pattern = self.rust_candidates()

        def candidates(cells: pl.Series) -> pl.Series:
            return fold_width_series(cells).str.extract_all(pattern)

        found = text.map_batches(candidates, return_dtype=pl.List(pl.String), is_elementwise=True)
        return found.list.eval(self.expr(pl.element())).list.drop_nulls().list.first()

    def rust_candidates(self) -> str:
        """:attr:`candidates` for Polars; override when the shared syntax is not enough."""
        return rust_pattern(self.candidates)

    def context_score(self, header: str | None) -> float:
        """How strongly a column header names this role: 1 exact, 0.8 contained, else 0.

        A header that contains a context word ("收件人手机号码" contains "手机") names the
        role nearly as well as the word itself. Latin words count only as whole tokens, so
        "paid" does not contain "id" while "Passenger ID" does.
        """
        if not header:
            return 0.0
        folded = normalise_header(header)
        if not folded:
            return 0.0
        words = {normalise_header(word) for word in self.context_words} - {""}
        if folded in words:
            return 1.0
        tokens = set(_LATIN_TOKEN.findall(unicodedata.normalize("NFKC", header).casefold()))
        for word in words:
            if word.isascii() and word in tokens:
                return 0.8
            if not word.isascii() and word in folded:
                return 0.8
        return 0.0

    def _context_before(self, folded: str, start: int) -> bool:
        window = folded[max(0, start - CONTEXT_WINDOW) : start].casefold()
        return any(word.casefold() in window for word in self.context_words)

    def _python_candidates(self) -> re.Pattern[str]:
        compiled: re.Pattern[str] | None = getattr(self, "_compiled_candidates", None)
        if compiled is None or compiled.pattern != self.candidates:
            compiled = python_pattern(self.candidates)
            self._compiled_candidates = compiled
        return compiled


# Python's ``\s`` (str.isspace) inside a Rust character class: Rust's Unicode ``\s`` lacks
# the four information separators U+001C-U+001F that Python counts as whitespace.
RUST_PY_SPACE: Final = r"\s\x1c-\x1f"
# Every character str.isspace() accepts, for Polars' strip_chars (tests check the list).
PY_SPACE_CHARS: Final = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)
