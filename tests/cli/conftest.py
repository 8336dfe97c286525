"""Fixtures shared by the CLI tests of leak forensics."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from parcelguard.config import Settings
from tests.forensics.leak_world import LeakWorld, build


@pytest.fixture
def world(
    settings: Settings, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[LeakWorld]:
    """The small Jingzhou world in the store, with the process environment pointing at it."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    built = build(settings)
    yield built
    built.engine.dispose()
