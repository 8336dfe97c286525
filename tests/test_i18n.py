"""Every error a person can meet has a Chinese reading (the interface speaks both)."""

import importlib
import pkgutil
import re
from pathlib import Path

import parcelguard
from parcelguard.core.errors import ParcelGuardError
from parcelguard.i18n import ERROR_GLOSSES_ZH
from parcelguard.labels.token import Reason


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found


def test_every_error_code_of_the_package_has_a_chinese_gloss() -> None:
    for module in pkgutil.walk_packages(parcelguard.__path__, "parcelguard."):
        if ".migrations." not in module.name:
            importlib.import_module(module.name)
    codes = {cls.code for cls in _subclasses(ParcelGuardError) if isinstance(cls.code, str)}
    codes |= {reason.value for reason in Reason}
    missing = sorted(code for code in codes if code not in ERROR_GLOSSES_ZH)
    assert missing == []


def test_every_problem_code_written_in_the_source_has_a_chinese_gloss() -> None:
    """Codes given per instance (``code="..."``, ``Problem(where, "code", ...)``) too.

    The HTTP API's problem codes are left out: its problem bodies are for programs, with
    English ``detail`` and a ``type`` to branch on (docs/api.md).
    """
    literal = re.compile(r'\bcode=\s*"([a-z_]+)"|Problem\(\s*[^,()]+,\s*"([a-z_]+)"')
    root = Path(parcelguard.__file__).parent
    codes: dict[str, str] = {}
    for path in root.rglob("*.py"):
        if path.parent.name == "api":
            continue
        for match in literal.finditer(path.read_text(encoding="utf-8")):
            codes.setdefault(match.group(1) or match.group(2), str(path.relative_to(root)))
    from parcelguard.events._convert import _PARSE_FAILURE

    codes |= {code: "events/_convert.py" for code, _ in _PARSE_FAILURE.values()}
    assert len(codes) > 20  # the pattern still finds them
    missing = sorted(
        f"{code} ({where})" for code, where in codes.items() if code not in ERROR_GLOSSES_ZH
    )
    assert missing == []
