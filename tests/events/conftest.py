"""Fixtures of the event format tests: the hand-made world and the reference checker."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from tests.events.world import build, world_rows

REFERENCE_CHECKER = (
    Path(__file__).resolve().parents[2].parent / "shared" / "spec" / "validate_events.py"
)


@pytest.fixture
def world() -> dict[str, pa.Table]:
    """Every table of the format, valid, a few rows each."""
    return build(world_rows())


@pytest.fixture
def reference_checker() -> Path:
    """The spec's own checker, validate_events.py; tests that need it skip without it."""
    if not REFERENCE_CHECKER.is_file():
        pytest.skip(f"the reference checker is not at {REFERENCE_CHECKER}")
    return REFERENCE_CHECKER
