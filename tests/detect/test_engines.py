"""The same expressions on both engines: DuckDB (embedded) and Spark (local mode).

One Spark session for the whole test session (starting one costs seconds) and a tiny
world: the test is about the engines agreeing, not about Spark's speed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from parcelguard.detect.engine import Engine, read_events
from parcelguard.detect.run import detect

pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs a Java runtime")


def test_duckdb_and_spark_give_the_same_alerts_on_the_same_input(tiny_world: Path) -> None:
    tables = read_events(tiny_world)
    on_duckdb = detect(Engine("duckdb", tables))
    on_spark = detect(Engine("spark", tables))
    assert on_duckdb.alerts, "the tiny world has insiders: an empty answer proves nothing"
    assert [a.as_dict() for a in on_spark.alerts] == [a.as_dict() for a in on_duckdb.alerts]
    assert on_spark.summary() == on_duckdb.summary()
    assert on_spark.detected_at == on_duckdb.detected_at


def test_an_unknown_engine_is_refused() -> None:
    from parcelguard.core.errors import BadInput

    with pytest.raises(BadInput, match="--engine"):
        Engine("sqlite", {})  # type: ignore[arg-type]
