"""``parcelguard.legal`` stays pure: rules only, nothing that reaches files, stores or screens."""

from __future__ import annotations

import ast
from pathlib import Path

import parcelguard.legal

FORBIDDEN = (
    "parcelguard.storage",
    "parcelguard.vault",
    "parcelguard.cli",
    "parcelguard.reveal",
    "parcelguard.forensics",
    "sqlalchemy",
    "typer",
    "rich",
    "os",
    "pathlib",
    "io",
    "json",
)


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_legal_package_imports_nothing_with_io() -> None:
    folder = Path(parcelguard.legal.__file__).parent
    modules = sorted(folder.glob("*.py"))
    assert len(modules) >= 4
    offending = {
        f"{path.name}: {name}"
        for path in modules
        for name in imported(path)
        if any(name == bad or name.startswith(f"{bad}.") for bad in FORBIDDEN)
    }
    assert offending == set()
