"""Recipient names: normalisation for blind indexes and the compound-surname table for masking."""

from __future__ import annotations

import re
import unicodedata

# Two-character (复姓) surnames in use today; masking keeps the whole surname visible.
COMPOUND_SURNAMES: frozenset[str] = frozenset(
    """
    欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 轩辕 令狐 钟离 闾丘
    赫连 澹台 公冶 太史 申屠 端木 独孤 南宫 西门 万俟 呼延 百里 东郭 濮阳 司空 淳于 单于
    仲孙 漆雕 乐正 壤驷 公良 拓跋 夹谷 宰父 谷梁 段干 东门 左丘 梁丘 第五 羊舌 微生 公羊
    """.split()
)

_SPACES = re.compile(r"\s+")
# Most names are a few CJK unified ideographs, already in normal form: skip the work.
_PLAIN_HAN = re.compile(r"[\u4e00-\u9fff]{1,16}")


class InvalidName(ValueError):
    """The text cannot be a recipient name; the message never repeats the text."""


def normalise_name(text: str) -> str:
    """Fold a name to the form blind indexes are computed on.

    NFKC folds full-width letters; whitespace goes (people type "王 五"); the interpunct of
    minority and foreign names is unified to U+00B7; Latin letters are case-folded.
    """
    if _PLAIN_HAN.fullmatch(text):
        return text
    folded = unicodedata.normalize("NFKC", text)
    folded = folded.replace("•", "·").replace("・", "·").replace("．", "·")
    folded = _SPACES.sub("", folded).casefold()
    if not folded:
        raise InvalidName("empty")
    if any(unicodedata.category(ch)[0] in "CZ" for ch in folded):
        raise InvalidName("contains control or separator characters")
    return folded


def surname_length(name: str) -> int:
    """How many leading characters of a Chinese name are the surname (1 or 2)."""
    return 2 if name[:2] in COMPOUND_SURNAMES else 1
