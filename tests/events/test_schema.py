"""The format as data agrees with the spec's reference checker and with the rest of the code."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from types import ModuleType

import pyarrow as pa

from parcelguard.core.waybill import CATEGORIES as SENDER_FILE_CATEGORIES
from parcelguard.events import EVENT_TABLES, TABLES
from parcelguard.events.schema import CATEGORIES, REFERENCES, SCHEMAS, TIMESTAMP


def load_checker(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("validate_events", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_columns_match_the_reference_checker(reference_checker: Path) -> None:
    checker = load_checker(reference_checker)
    assert {name: list(t.names) for name, t in TABLES.items()} == checker.COLUMNS


def test_enumerations_match_the_reference_checker(reference_checker: Path) -> None:
    checker = load_checker(reference_checker)
    ours = {
        (name, c.name): set(c.values) | ({""} if c.nullable else set())
        for name, t in TABLES.items()
        for c in t.columns
        if c.values is not None
    }
    assert ours == checker.ENUMS


def test_timestamp_columns_match_the_reference_checker(reference_checker: Path) -> None:
    checker = load_checker(reference_checker)
    ours = {
        name: [c.name for c in t.columns if c.kind == "ts"]
        for name, t in TABLES.items()
        if any(c.kind == "ts" for c in t.columns)
    }
    assert ours == checker.TIMESTAMPS


def test_references_match_the_reference_checker(reference_checker: Path) -> None:
    """The checker lists references inline as (table, column, set, target) tuples."""
    tree = ast.parse(reference_checker.read_text(encoding="utf-8"))
    theirs = {
        (t.elts[0].value, t.elts[1].value, t.elts[3].value)
        for t in ast.walk(tree)
        if isinstance(t, ast.Tuple)
        and len(t.elts) == 4
        and all(isinstance(t.elts[i], ast.Constant) for i in (0, 1, 3))
    }
    assert theirs
    assert {(r.table, r.column, r.target) for r in REFERENCES} == theirs


def test_sender_categories_are_the_ones_sender_files_accept() -> None:
    assert set(CATEGORIES) == SENDER_FILE_CATEGORIES


def test_references_point_at_existing_columns() -> None:
    for r in REFERENCES:
        assert r.column in TABLES[r.table].names
        assert r.target_column in TABLES[r.target].names


def test_arrow_schemas_use_the_spec_types() -> None:
    assert SCHEMAS["accesses"].field("ts").type == TIMESTAMP == pa.timestamp("us", tz="+08:00")
    assert SCHEMAS["employees"].field("hired_on").type == pa.date32()
    assert SCHEMAS["senders"].field("bulk").type == pa.bool_()
    assert SCHEMAS["accesses"].field("field").nullable
    assert not SCHEMAS["accesses"].field("event_id").nullable
    assert all(s.metadata is None for s in SCHEMAS.values())


def test_detectors_are_not_offered_the_ground_truth() -> None:
    assert "labels" in TABLES
    assert "labels" not in EVENT_TABLES
    assert list(TABLES)[: len(EVENT_TABLES)] == list(EVENT_TABLES)
