"""Every error a person can meet has a Chinese reading (the interface speaks both)."""

import ast
import importlib
import pkgutil
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


def _code_literals(tree: ast.AST) -> set[str]:
    """``code="..."`` keywords, and the code of ``Problem(where, "code", ...)``."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        for keyword in node.keywords:
            value = keyword.value
            if keyword.arg == "code" and isinstance(value, ast.Constant):
                found.add(str(value.value))
        name = getattr(node.func, "id", getattr(node.func, "attr", ""))
        if name == "Problem" and len(node.args) >= 2:
            code = node.args[1]
            if isinstance(code, ast.Constant) and isinstance(code.value, str):
                found.add(code.value)
    return found


def test_every_problem_code_written_in_the_source_has_a_chinese_gloss() -> None:
    """Codes given per instance (``code="..."``, ``Problem(where, "code", ...)``) too.

    The HTTP API's problem codes are left out: its problem bodies are for programs, with
    English ``detail`` and a ``type`` to branch on (docs/api.md).
    """
    root = Path(parcelguard.__file__).parent
    codes: dict[str, str] = {}
    for path in root.rglob("*.py"):
        if path.parent.name == "api":
            continue
        for code in _code_literals(ast.parse(path.read_text(encoding="utf-8"))):
            codes.setdefault(code, str(path.relative_to(root)))
    from parcelguard.events._convert import _PARSE_FAILURE

    codes |= {code: "events/_convert.py" for code, _ in _PARSE_FAILURE.values()}
    assert {"not_utf8", "no_folder", "canary_waybill"} <= set(codes)  # the scan still sees them
    missing = sorted(f"{c} ({where})" for c, where in codes.items() if c not in ERROR_GLOSSES_ZH)
    assert missing == []
