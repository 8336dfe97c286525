"""The shape of the carrier's virtual numbers (隐私号), with no storage and no clock.

Virtual numbers are rented from an MVNO range: 11 digits beginning ``170`` or ``171``. They
look exactly like mobile numbers, which is the point (a buyer of leaked data cannot tell them
apart) and also why leak forensics needs :func:`is_virtual_number`: a ``170`` number in a
seized file is either a real subscriber or one of ours, and only the pool can say which.

Which ranges the carrier rents is configuration (``prefixes``); the defaults are the two
ranges used for 隐私号 in practice.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Iterator, Sequence

DIGITS = 11
DEFAULT_PREFIXES: tuple[str, ...] = ("170", "171")
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―()（）.·]+")
_COUNTRY_PREFIXES = ("+86", "0086", "86")


class InvalidVirtualNumber(ValueError):
    """Not one of the carrier's virtual numbers; the message never repeats the text.

    A string that fails here may be a recipient's real phone typed into the wrong field, so
    it stays out of messages like any other personal value.
    """


def check_prefixes(prefixes: Sequence[str]) -> tuple[str, ...]:
    """The configured ranges, checked: each 3 to 10 digits, starting ``1``, at least one."""
    checked = tuple(prefixes)
    if not checked:
        raise InvalidVirtualNumber("no virtual-number prefix is configured")
    for prefix in checked:
        if not (prefix.isascii() and prefix.isdigit() and 3 <= len(prefix) < DIGITS):
            raise InvalidVirtualNumber(
                f"prefix {prefix!r}: give 3 to {DIGITS - 1} digits, like 1709"
            )
        if not prefix.startswith("1"):
            raise InvalidVirtualNumber(f"prefix {prefix!r}: mobile ranges start with 1")
    return checked


def normalise_virtual_number(text: str, prefixes: Sequence[str] = DEFAULT_PREFIXES) -> str:
    """The 11-digit form of a virtual number, or :class:`InvalidVirtualNumber`.

    Accepts what people and spreadsheets write: spaces, dashes, dots, brackets, full-width
    digits and a ``+86`` / ``0086`` / ``86`` country prefix, because numbers reach forensics
    from leaked files and reach routing from the telephony side in any of those forms.
    """
    folded = unicodedata.normalize("NFKC", text)
    compact = _SEPARATORS.sub("", folded)
    if not compact:
        raise InvalidVirtualNumber("empty")
    for country in _COUNTRY_PREFIXES:
        if compact.startswith(country) and len(compact) == len(country) + DIGITS:
            compact = compact[len(country) :]
            break
    if not compact.isascii() or not compact.isdigit():
        raise InvalidVirtualNumber("contains characters other than digits and separators")
    if len(compact) != DIGITS:
        raise InvalidVirtualNumber(f"has {len(compact)} digits, a virtual number has {DIGITS}")
    if not compact.startswith(tuple(check_prefixes(prefixes))):
        raise InvalidVirtualNumber(f"is not in a virtual-number range ({', '.join(prefixes)})")
    return compact


def is_virtual_number(text: str, prefixes: Sequence[str] = DEFAULT_PREFIXES) -> bool:
    """Whether ``text`` has the shape of one of our virtual numbers (pool membership aside)."""
    try:
        normalise_virtual_number(text, prefixes)
    except InvalidVirtualNumber:
        return False
    return True


def pool_numbers(
    prefix: str,
    count: int,
    seed: int,
    *,
    allowed: Sequence[str] = DEFAULT_PREFIXES,
) -> Iterator[str]:
    """``count`` distinct numbers under ``prefix``, in a seeded random order, for provisioning.

    Random rather than consecutive so that the numbers bound one after another do not tell a
    buyer of leaked data how big the pool is or which numbers are next. The same seed gives
    the same numbers, so provisioning can be repeated and is idempotent.
    """
    check_prefixes([prefix])
    if not prefix.startswith(tuple(check_prefixes(allowed))):
        raise InvalidVirtualNumber(
            f"prefix {prefix}: not inside a virtual-number range ({', '.join(allowed)})"
        )
    free_digits = DIGITS - len(prefix)
    room = 10**free_digits
    if not 0 <= count <= room:
        raise InvalidVirtualNumber(f"count {count}: prefix {prefix} holds 0 to {room} numbers")
    # Not a secret: the numbers are public once bound; the seed only makes provisioning
    # repeatable. ``sample`` over a range draws without building the range.
    rng = random.Random(seed)  # noqa: S311
    for suffix in rng.sample(range(room), count):
        yield f"{prefix}{suffix:0{free_digits}d}"
