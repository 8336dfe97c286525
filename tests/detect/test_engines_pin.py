"""The pinned Ibis/sqlglot pair: DuckDB's create_table through Ibis, the path sqlglot 30 broke.

Ibis 12 with sqlglot 30 fails here with a parser error on ``DROP VIEW IF EXISTS``; sqlglot
27 works, and ``constraints.txt`` pins it. This test is the pin's reason to exist: it fails
if an upgrade brings the broken pair back.
"""

from __future__ import annotations

import ibis
import pyarrow as pa
import sqlglot


def test_sqlglot_is_the_pinned_major() -> None:
    assert sqlglot.__version__.split(".")[0] == "27"


def test_duckdb_create_table_through_ibis_creates_and_overwrites() -> None:
    con = ibis.duckdb.connect()
    con.create_table("t", pa.table({"a": [1, 2, 3], "b": ["x", "y", "x"]}))
    again = con.create_table("t", pa.table({"a": [5], "b": ["z"]}), overwrite=True)
    assert again.count().execute() == 1
    table = con.table("t")
    sums = table.group_by("b").agg(n=table.a.sum()).to_pyarrow().to_pylist()
    assert sums == [{"b": "z", "n": 5}]
    con.create_table("v_src", table.filter(table.a > 0), overwrite=True)  # from an expression
    assert con.table("v_src").count().execute() == 1
