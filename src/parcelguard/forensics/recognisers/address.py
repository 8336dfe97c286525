"""Addresses down to the district: the text starts with (or contains) a district's path.

A leaked address names its district the way people write it: in full (湖北省荆州市沙市区),
abbreviated (湖北荆州沙市区, 荆州沙市), without the province (荆州市沙市区) or, when the
name is unique in the country, with the district alone. Every such path is generated from
the bundled district table (:func:`parcelguard.simulate.reference.districts`, 2,855
county-level divisions) and kept only when it names exactly one district: 朝阳区 alone is
ambiguous (Beijing and Changchun) and is dropped, 北京朝阳区 is not.

Finding the longest path at the start of a cell is one hash lookup per path length (the
cell's first 25, 24, .. 2 characters against the ~50,000 literal paths of that length, the
longest hit winning): measured a quarter faster than one Aho-Corasick pass anchored at the
start. Free text, where a path may start anywhere, takes the Aho-Corasick pass (Polars
``extract_many``, leftmost-first, longest listed first). No backtracking regex either way,
and the same answer as the Python scan in :meth:`find`.

Canonical form: the district's 6-digit adcode.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterator
from typing import ClassVar, Final

import polars as pl

from parcelguard.forensics.recognisers.base import (
    CONTEXT_BOOST,
    RUST_PY_SPACE,
    Found,
    Recogniser,
    Role,
    fold_width,
    fold_width_series,
    keep,
)

# The 55 minority nationalities (and 各族), as they appear in autonomous names.
_ETHNIC: Final = (
    "蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲 高山 "
    "拉祜 水 东乡 纳西 景颇 柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 普米 "
    "塔吉克 怒 乌孜别克 俄罗斯 鄂温克 德昂 保安 裕固 京 塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 基诺 各"
).split()
_AUTONOMOUS: Final = re.compile(
    rf"^(.+?)(?:(?:{'|'.join(sorted(_ETHNIC, key=len, reverse=True))})族)*自治[区州县旗]$"
)
_PROVINCE_SUFFIX: Final = re.compile(
    r"(?:特别行政区|维吾尔自治区|壮族自治区|回族自治区|自治区|省|市)$"
)
_LOWER_SUFFIX: Final = re.compile(r"(?:地区|林区|新区|[市区县旗盟])$")
_SPACES: Final = re.compile(r"\s+")
_SPACES_RUST: Final = rf"[{RUST_PY_SPACE}]+"
COUNTRY: Final = "中国"
_PLACEHOLDER: Final = "市辖区"
SCAN_LIMIT: Final = 50_000
MEMORY_LIMIT: Final = 250_000
MEMORY_BYTES: Final = 32 * 1024 * 1024
REMEMBERED_CHARS: Final = 128
_CELL: Final = "cell"
_ADCODE: Final = "adcode"
_KNOWN_SCHEMA: Final = {_CELL: pl.String, _ADCODE: pl.String}


def short_name(name: str, level: str) -> str | None:
    """The name as abbreviated in addresses (湖北, 荆州, 沙市, 恩施), or None if too short.

    Autonomous units drop their nationalities and 自治州/县 (恩施土家族苗族自治州 → 恩施);
    provinces drop 省/自治区 (广西壮族自治区 → 广西); cities and districts drop
    市/区/县/地区. Fewer than two characters left is no abbreviation (城区 → 城).
    """
    autonomous = _AUTONOMOUS.match(name)
    if autonomous is not None:
        short = autonomous.group(1)
    elif level == "province":
        short = _PROVINCE_SUFFIX.sub("", name)
    else:
        short = _LOWER_SUFFIX.sub("", name)
    return short if len(short) >= 2 and short != name else None


def _variants(name: str, level: str) -> list[str]:
    short = short_name(name, level)
    if short is None:
        return [name]
    if level == "city" and name.endswith("自治州"):
        return [name, short, short + "州"]  # 恩施州, 湘西州: how the prefectures are called
    return [name, short]


@functools.cache
def address_paths() -> dict[str, str | None]:
    """Every unambiguous way of writing a district's path → its adcode.

    Province (full, short or none) + city (full, short or none; none for municipalities
    and for cities that are their own district) + district (full or short). A district
    alone must be written in full: a bare abbreviation (沙市) is too likely to be a word.
    Paths that stop at the city or the province (湖北省荆州市) are in the table too, mapped
    to None, so that 湖北省荆州 cannot be read as the district 荆州区 when it may be the
    city: a path that could be either is ambiguous and left out.
    """
    from parcelguard.simulate.reference import districts

    table = districts()
    seen: dict[str, set[str]] = {}
    rows = zip(
        table.adcode.tolist(),
        table.name.tolist(),
        table.province.tolist(),
        table.city.tolist(),
        strict=True,
    )
    for adcode, name, province, city in rows:
        provinces = [*_variants(province, "province"), ""]
        if city == province:
            # Municipalities: forms and shop exports repeat the name as the city
            # (北京 北京市 朝阳区) or give the table's placeholder (北京市市辖区朝阳区).
            cities = [*_variants(city, "city"), _PLACEHOLDER, ""]
        elif city == name:
            cities = [""]  # a city that is its own district (东莞市, 仙桃市)
        else:
            cities = [*_variants(city, "city"), ""]
        for p in provinces:
            if p:
                seen.setdefault(p, set()).add("province:" + adcode[:2])
            for c in cities:
                if c and c != _PLACEHOLDER:
                    seen.setdefault(p + c, set()).add("city:" + adcode[:4])
                for d in _variants(name, "district"):
                    if not p and not c and d != name:
                        continue
                    seen.setdefault(p + c + d, set()).add(adcode)
    return {
        path: (None if ":" in code else code)
        for path, codes in seen.items()
        if len(codes) == 1
        for code in codes
    }


@functools.cache
def _paths_longest_first() -> tuple[str, ...]:
    return tuple(sorted(address_paths(), key=lambda path: (-len(path), path)))


# A path that stops at a city or a province (value None) still wins over shorter ones.
_NOT_A_DISTRICT: Final = ""


@functools.cache
def _paths_by_length() -> dict[int, tuple[pl.Series, pl.Series]]:
    """The paths of each length and their adcodes, longest first, as Series to look up in."""
    grouped: dict[int, tuple[list[str], list[str]]] = {}
    for path, adcode in address_paths().items():
        paths, values = grouped.setdefault(len(path), ([], []))
        paths.append(path)
        values.append(_NOT_A_DISTRICT if adcode is None else adcode)
    return {
        length: (pl.Series(paths, dtype=pl.String), pl.Series(values, dtype=pl.String))
        for length, (paths, values) in sorted(grouped.items(), reverse=True)
    }


@functools.cache
def _lengths() -> tuple[int, ...]:
    return tuple(sorted({len(path) for path in address_paths()}, reverse=True))


def _longest_prefix(text: str) -> str | None:
    """The value of the longest path that ``text`` starts with (None: no district)."""
    paths = address_paths()
    for length in _lengths():
        if length <= len(text) and text[:length] in paths:
            return paths[text[:length]]
    return None


def _scan(text: str) -> Iterator[tuple[int, int, str | None]]:
    """``(start, end, adcode)`` of each path in ``text``: leftmost, longest, no overlaps.

    What Aho-Corasick's leftmost-first search does with the paths listed longest first;
    city- and province-only paths are yielded too (adcode None), as they consume text.
    """
    paths = address_paths()
    start = 0
    while start < len(text):
        for length in _lengths():
            path = text[start : start + length]
            if length == len(path) and path in paths:
                yield start, start + length, paths[path]
                start += length
                break
        else:
            start += 1


def _mapped(values: pl.Series, lookup: dict[str, str | None]) -> pl.Series:
    """``values`` replaced through ``lookup``, null where absent (String even when empty)."""
    if not lookup:
        return pl.Series(values.name, [None] * len(values), dtype=pl.String)
    return values.replace_strict(lookup, default=None, return_dtype=pl.String)


class AddressRecogniser(Recogniser):
    """Addresses with a recognisable district; canonical form: the 6-digit adcode."""

    role: ClassVar[Role] = "address"
    context_words: ClassVar[tuple[str, ...]] = (
        "地址",
        "收件地址",
        "收货地址",
        "详细地址",
        "收件人地址",
        "所在地区",
        "住址",
        "address",
        "addr",
    )
    score: ClassVar[float] = 0.7
    candidates = ""  # literal paths, searched by _scan and extract_many instead of a regex

    def __init__(self, *, scan_limit: int = SCAN_LIMIT, memory: int = MEMORY_LIMIT) -> None:
        # Batches with at most this many distinct cells are looked up in Python (exactly
        # the same answer): a dict scan costs ~5 µs a cell, while the vectorised lookups
        # (and the free-text automaton, ~0.5 s to build) have a fixed cost per batch.
        self.scan_limit = scan_limit
        # Addresses already recognised, up to ``memory`` of them and MEMORY_BYTES of text,
        # none longer than REMEMBERED_CHARS: a leaked file repeats them (households,
        # buildings, a shop's regular customers) across its blocks, and a lookup here costs
        # a tenth of recognising one. They are plaintext: ``forget()`` drops them, and
        # ingest calls it when a file is done.
        self.memory = memory
        self._known = pl.DataFrame(schema=_KNOWN_SCHEMA)
        self._known_bytes = 0
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, object]:
        """Pickled (for a worker process) without its memory or its lock."""
        return {"scan_limit": self.scan_limit, "memory": self.memory}

    def __setstate__(self, state: dict[str, object]) -> None:
        scan_limit, memory = state["scan_limit"], state["memory"]
        assert isinstance(scan_limit, int)
        assert isinstance(memory, int)
        self.__init__(scan_limit=scan_limit, memory=memory)  # type: ignore[misc]

    def forget(self) -> None:
        """Drop the remembered addresses (plaintext) once a file is done."""
        with self._lock:
            self._known = pl.DataFrame(schema=_KNOWN_SCHEMA)
            self._known_bytes = 0

    def normalise(self, cell: str) -> str | None:
        return _longest_prefix(_SPACES.sub("", cell).removeprefix(COUNTRY))

    def normalise_batch(self, cells: pl.Series) -> pl.Series:
        """The district of each cell: remembered ones by one join, the rest recognised once.

        Only distinct cells not met before are recognised; the rest of the batch is one
        hash join against what earlier batches found (a district, or ``""`` for none).
        Several threads may share one recogniser: each batch joins one snapshot of the
        memory, and adding to it is done under a lock, without repeating a cell.
        """
        text = cells.cast(pl.String).str.replace_all(_SPACES_RUST, "").str.strip_prefix(COUNTRY)
        with self._lock:
            known = self._known
        frame = pl.DataFrame({_CELL: text}).join(known, on=_CELL, how="left", maintain_order="left")
        unknown = pl.col(_ADCODE).is_null() & pl.col(_CELL).is_not_null()
        new = frame.filter(unknown).select(pl.col(_CELL).unique())
        if not new.is_empty():
            found = new.with_columns(
                self._recognised(new.get_column(_CELL)).fill_null(_NOT_A_DISTRICT).alias(_ADCODE)
            )
            self._remember(found)
            frame = frame.with_columns(
                pl.when(unknown)
                .then(
                    pl.col(_CELL).replace_strict(
                        found.get_column(_CELL),
                        found.get_column(_ADCODE),
                        default=None,
                        return_dtype=pl.String,
                    )
                )
                .otherwise(pl.col(_ADCODE))
                .alias(_ADCODE)
            )
        adcode = frame.get_column(_ADCODE)
        return keep(adcode, adcode != _NOT_A_DISTRICT).alias(cells.name)

    def _remember(self, found: pl.DataFrame) -> None:
        short = found.filter(pl.col(_CELL).str.len_chars() <= REMEMBERED_CHARS)
        with self._lock:
            fresh = short.join(self._known, on=_CELL, how="anti")
            size = int(fresh.get_column(_CELL).str.len_bytes().sum() or 0)
            if (
                self._known.height + fresh.height <= self.memory
                and self._known_bytes + size <= MEMORY_BYTES
            ):
                self._known = pl.concat([self._known, fresh], rechunk=True)
                self._known_bytes += size

    def _recognised(self, cells: pl.Series) -> pl.Series:
        """The district of each (already cleaned, distinct) cell, or null."""
        if len(cells) <= self.scan_limit:
            return pl.Series([_longest_prefix(cell) for cell in cells.to_list()], dtype=pl.String)
        hits = [
            pl.lit(cells)
            .str.slice(0, length)
            .replace_strict(paths, values, default=None, return_dtype=pl.String)
            for length, (paths, values) in _paths_by_length().items()
        ]
        found = pl.select(pl.coalesce(hits)).to_series()
        return keep(found, found != _NOT_A_DISTRICT)

    def find(self, text: str) -> list[Found]:
        """Every district path in free text, leftmost and longest first, without overlaps."""
        folded = fold_width(text)
        found: list[Found] = []
        for start, end, adcode in _scan(folded):
            if adcode is None:
                continue
            context = self._context_before(folded, start)
            score = min(1.0, self.score + CONTEXT_BOOST) if context else self.score
            reason = "district_path+context" if context else "district_path"
            found.append(Found(self.role, start, end, adcode, round(score, 4), reason))
        return found

    def extract(self, text: pl.Expr) -> pl.Expr:
        return text.map_batches(self._extract_batch, return_dtype=pl.String, is_elementwise=True)

    def _extract_batch(self, cells: pl.Series) -> pl.Series:
        folded = fold_width_series(cells)
        distinct = folded.drop_nulls().unique()
        if len(distinct) <= self.scan_limit:
            lookup = {
                text: next((code for _, _, code in _scan(text) if code is not None), None)
                for text in distinct.to_list()
            }
            return _mapped(folded, lookup).alias(cells.name)
        found = folded.str.extract_many(list(_paths_longest_first()), leftmost=True)
        paths = address_paths()
        adcodes = pl.select(
            pl.lit(found).list.eval(
                pl.element().replace_strict(paths, default=None, return_dtype=pl.String)
            )
        ).to_series()
        return adcodes.list.drop_nulls().list.first().alias(cells.name)

    def reason(self, normalised: str) -> str:
        return "district_path"
