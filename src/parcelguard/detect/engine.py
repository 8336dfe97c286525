"""The edge where the pipelines meet data: read the events, hand them to an engine, run.

Why one loader for both engines: the events are read and checked by the exchange-format
reader (:func:`parcelguard.events.read_folder`), which already names the file, column and
row of any problem; the engine only ever sees tables that conform. Times become integers
(POSIX microseconds, dates as day numbers) before either engine sees them, so DuckDB and
Spark cannot disagree about a time zone.

DuckDB is embedded and reads the Arrow tables in place; Spark runs in local mode here (one
session per process, started on first use), through Ibis's PySpark backend.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from parcelguard.core.errors import BadInput
from parcelguard.events import EVENT_TABLES, read_folder

EngineName = Literal["duckdb", "spark"]
ENGINES: tuple[EngineName, ...] = get_args(EngineName)

_spark_lock = threading.Lock()


def read_events(folder: Path) -> dict[str, pa.Table]:
    """Every event table of ``folder`` (never ``labels``), checked, with integer times."""
    tables = read_folder(folder, EVENT_TABLES)
    empty = [name for name in ("employees", "accesses") if tables[name].num_rows == 0]
    if empty:
        raise BadInput(
            f"{folder}: table {empty[0]} has no rows; nothing to detect", code="empty_table"
        )
    return {name: integer_times(table) for name, table in tables.items()}


def integer_times(table: pa.Table) -> pa.Table:
    """Timestamps as int64 POSIX microseconds and dates as int32 days since 1970-01-01."""
    for index, field in enumerate(table.schema):
        column = table.column(index)
        if pa.types.is_timestamp(field.type):
            us = pc.cast(column, pa.timestamp("us", tz="UTC")).cast(pa.int64())
            table = table.set_column(index, field.name, us)
        elif pa.types.is_date32(field.type):
            table = table.set_column(index, field.name, column.cast(pa.int32()))
    # Every column nullable: the engines compare nullability in unions and joins, and what
    # the format requires was checked by the reader already.
    loose = pa.schema([pa.field(f.name, f.type, nullable=True) for f in table.schema])
    return table.cast(loose)


class Engine:
    """An Ibis backend with the event tables registered under their names."""

    def __init__(self, name: EngineName, tables: Mapping[str, pa.Table]) -> None:
        if name not in ENGINES:
            raise BadInput(f"--engine {name}: use one of {', '.join(ENGINES)}")
        self.name = name
        self._spill = tempfile.TemporaryDirectory(prefix="parcelguard-duckdb-")
        self.backend: Any = _connect(name, Path(self._spill.name))
        self.tables: dict[str, ir.Table] = {}
        for table_name, table in tables.items():
            self.tables[table_name] = self._register(table_name, table)

    def _register(self, name: str, table: pa.Table) -> ir.Table:
        view = f"pg_{name}_{id(self):x}"
        if self.name == "duckdb":
            # Registered in place (no copy), and bound to this connection, so that cached
            # results land where the queries run.
            self.backend.con.register(view, table)
            return self.backend.table(view)
        # A temporary view of a DataFrame made from Arrow: nothing is written to a warehouse.
        spark_session().createDataFrame(table).createOrReplaceTempView(view)
        return self.backend.table(view)

    def cache(self, expr: ir.Table) -> ir.Table:
        """Materialise ``expr`` once in the engine: every later query reads it, not its joins.

        On DuckDB this is ``create_table`` of a temporary table, the path the pinned sqlglot
        keeps working (``tests/detect/test_engines_pin.py``).
        """
        return expr.cache()

    def release(self, cached: ir.Table) -> None:
        """Drop what :meth:`cache` materialised (a day-by-day evaluation makes many)."""
        cached.release()

    def arrow(self, expr: ir.Expr) -> pa.Table:
        """Run ``expr`` and bring its (small) result back as Arrow."""
        result = self.backend.to_pyarrow(expr)
        if isinstance(result, pa.Table):
            return result
        return pa.table(
            {"value": pa.array([result.as_py() if hasattr(result, "as_py") else result])}
        )

    def scalar(self, expr: ir.Scalar) -> Any:
        return self.backend.execute(expr)


DUCKDB_MEMORY_LIMIT = "3GB"
"""DuckDB's own memory (joins, the materialised accesses); past it, it spills to a temporary
folder. The Arrow input sits outside it, so a run's peak is about the input plus this: at
10 M accesses and 30 M workflow rows, under 8 GiB (bench/detect.py)."""


def _connect(name: EngineName, spill: Path) -> Any:
    if name == "duckdb":
        return ibis.duckdb.connect(memory_limit=DUCKDB_MEMORY_LIMIT, temp_directory=str(spill))
    return ibis.pyspark.connect(spark_session())


def spark_session() -> Any:
    """One local Spark session per process: starting one costs seconds, so it is shared
    (``getOrCreate`` hands back the running one)."""
    with _spark_lock:
        try:
            from pyspark.sql import SparkSession
        except ImportError:  # pragma: no cover - pyspark is a dependency
            raise BadInput("--engine spark: pyspark is not installed") from None
        session = (
            SparkSession.builder.master("local[2]")
            .appName("parcelguard-detect")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.driver.memory", "2g")
            .config("spark.sql.warehouse.dir", tempfile.mkdtemp(prefix="parcelguard-spark-"))
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        return session


__all__ = ["ENGINES", "Engine", "EngineName", "integer_times", "read_events", "spark_session"]
