"""Reading and writing event folders: round trips, byte-identical output, and clear errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parcelguard.core.errors import BadInput
from parcelguard.events import EVENT_TABLES, TABLES, read_folder, write_folder
from parcelguard.events.schema import SCHEMAS
from tests.events.world import at, build, world_rows

FORMATS = ["parquet", "csv"]


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def read_error(folder: Path, **kwargs: object) -> BadInput:
    with pytest.raises(BadInput) as caught:
        read_folder(folder, **kwargs)  # type: ignore[arg-type]
    return caught.value


# --- round trips -----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_world_reads_back_equal_to_what_was_written(
    tmp_path: Path, world: dict[str, pa.Table], fmt: str
) -> None:
    counts = write_folder(tmp_path, world, fmt)  # type: ignore[arg-type]

    assert counts == {name: t.num_rows for name, t in world.items()}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.{fmt}" for n in TABLES)
    back = read_folder(tmp_path, require_labels=True)
    assert list(back) == list(TABLES)
    for name, table in world.items():
        assert back[name].schema == SCHEMAS[name]
        assert back[name].equals(table), name


def test_csv_is_plain_text_with_offsets_lower_case_bools_and_empty_nulls(
    tmp_path: Path, world: dict[str, pa.Table]
) -> None:
    write_folder(tmp_path, world, "csv")

    assert (tmp_path / "employees.csv").read_bytes() == (
        b"employee_id,role,site_id,hired_on,left_on\n"
        b"E001,courier,S01,2015-03-01,\n"
        b"E002,cs_agent,S03,2014-07-15,\n"
        b"E003,station_clerk,S01,2016-01-04,2016-10-31\n"
        b"E004,security_officer,S04,2012-05-02,\n"
    )
    assert (tmp_path / "senders.csv").read_text() == (
        "sender_id,category,bulk\nN01,health,false\nN02,electronics,true\n"
    )
    back = read_folder(tmp_path)
    assert back["accesses"]["field"].null_count == 3  # empty cells of nullable columns
    assert back["employees"]["left_on"].null_count == 3
    accesses = (tmp_path / "accesses.csv").read_text().splitlines()
    assert (
        accesses[1] == "A001,2016-10-03T09:15:02+08:00,E001,login,,,,handheld,D01,10.0.0.1,allow,ok"
    )
    assert accesses[3].startswith("A003,2016-10-03T09:20:05.000007+08:00,")


def test_a_csv_value_with_commas_quotes_or_line_breaks_round_trips(
    tmp_path: Path,
) -> None:
    rows = world_rows()
    rows["labels"]["scenario"] = ['bulk export, "night", then\nquiet']
    world = build(rows)
    write_folder(tmp_path, world, "csv")

    assert read_folder(tmp_path, ["labels"])["labels"].equals(world["labels"])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    texts=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=6),
    micros=st.lists(
        st.integers(min_value=-2_208_988_800_000_000, max_value=4_102_444_800_000_000),
        min_size=1,
        max_size=6,
    ),
)
def test_any_text_and_time_round_trip_through_csv(
    tmp_path_factory: pytest.TempPathFactory, texts: list[str], micros: list[int]
) -> None:
    n = min(len(texts), len(micros))
    table = pa.table(
        {
            "employee_id": texts[:n],
            "scenario": list(reversed(texts[:n])),
            "started_at": pa.array(micros[:n], pa.timestamp("us", tz="+08:00")),
            "ended_at": pa.array(micros[:n], pa.timestamp("us", tz="+08:00")),
        },
        schema=SCHEMAS["labels"],
    )
    folder = tmp_path_factory.mktemp("labels")
    write_folder(folder, {"labels": table}, "csv")

    assert read_folder(folder, ["labels"])["labels"].equals(table)


# --- deterministic, atomic writing -----------------------------------------------------


def rechunked(world: dict[str, pa.Table]) -> dict[str, pa.Table]:
    return {
        n: pa.Table.from_batches(t.to_batches(max_chunksize=1), t.schema) for n, t in world.items()
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_same_tables_give_byte_identical_files(
    tmp_path: Path, world: dict[str, pa.Table], fmt: str
) -> None:
    write_folder(tmp_path / "one", world, fmt)  # type: ignore[arg-type]
    write_folder(tmp_path / "two", world, fmt)  # type: ignore[arg-type]
    write_folder(tmp_path / "chunked", rechunked(world), fmt)  # type: ignore[arg-type]

    first = files(tmp_path / "one")
    assert first == files(tmp_path / "two")
    assert first == files(tmp_path / "chunked")


def test_parquet_files_carry_no_pandas_metadata_and_use_zstd(
    tmp_path: Path, world: dict[str, pa.Table]
) -> None:
    world["sites"] = world["sites"].replace_schema_metadata({b"pandas": b"{}"})
    write_folder(tmp_path, world, "parquet")

    parquet = pq.ParquetFile(tmp_path / "sites.parquet")
    assert b"pandas" not in (parquet.schema_arrow.metadata or {})
    assert parquet.metadata.row_group(0).column(0).compression == "ZSTD"


def test_rewriting_a_folder_replaces_files_and_leaves_no_temporary_files(
    tmp_path: Path, world: dict[str, pa.Table]
) -> None:
    write_folder(tmp_path, world, "parquet")
    before = files(tmp_path)
    write_folder(tmp_path, world, "parquet")

    assert files(tmp_path) == before


def test_writing_the_other_format_removes_the_stale_file(
    tmp_path: Path, world: dict[str, pa.Table]
) -> None:
    write_folder(tmp_path, world, "parquet")
    write_folder(tmp_path, {"sites": world["sites"]}, "csv")

    assert (tmp_path / "sites.csv").exists()
    assert not (tmp_path / "sites.parquet").exists()
    assert read_folder(tmp_path)["sites"].equals(world["sites"])


def test_a_crash_while_writing_keeps_the_old_table_whole(
    tmp_path: Path, world: dict[str, pa.Table], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_folder(tmp_path, world, "parquet")
    before = files(tmp_path)

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk gone")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", crash)
    with pytest.raises(RuntimeError, match="disk gone"):
        write_folder(tmp_path, world, "parquet")

    assert files(tmp_path) == before


def test_a_bad_table_stops_the_write_before_any_file_is_written(
    tmp_path: Path, world: dict[str, pa.Table]
) -> None:
    rows = world_rows()
    rows["accesses"]["channel"][2] = None
    with pytest.raises(BadInput) as caught:
        write_folder(tmp_path / "out", build(rows), "csv")

    assert "accesses:channel" in caught.value.message
    assert "row 3" in caught.value.message
    assert not (tmp_path / "out").exists()


def test_writing_refuses_naive_times_but_converts_other_zones(
    tmp_path: Path, world: dict[str, pa.Table]
) -> None:
    labels = world["labels"]
    naive = labels.set_column(2, "started_at", labels["started_at"].cast(pa.timestamp("us")))
    with pytest.raises(BadInput, match=r"labels:started_at.*time zone"):
        write_folder(tmp_path, {"labels": naive}, "csv")

    utc = labels.set_column(
        2, "started_at", labels["started_at"].cast(pa.timestamp("ns", tz="UTC"))
    )
    write_folder(tmp_path, {"labels": utc}, "csv")
    assert "2016-10-03T22:01:00+08:00" in (tmp_path / "labels.csv").read_text()
    assert read_folder(tmp_path, ["labels"])["labels"].equals(labels)


def test_writing_accepts_untyped_columns_of_nulls(
    tmp_path: Path, world: dict[str, pa.Table]
) -> None:
    tickets = world["tickets"]
    untyped = tickets.set_column(4, "closed_at", pa.chunked_array([pa.nulls(2)]))
    write_folder(tmp_path, {"tickets": untyped}, "parquet")

    back = read_folder(tmp_path, ["tickets"])["tickets"]
    assert back.schema == SCHEMAS["tickets"]
    assert back["closed_at"].null_count == 2


def test_writing_drops_columns_outside_the_spec(tmp_path: Path, world: dict[str, pa.Table]) -> None:
    sites = world["sites"].append_column("note", pa.array(["a", "b", "c", "d"]))
    write_folder(tmp_path, {"sites": sites}, "parquet")

    assert pq.ParquetFile(tmp_path / "sites.parquet").schema_arrow.names == [
        "site_id",
        "kind",
        "adcode",
    ]


def test_writing_an_unknown_table_or_format_is_a_programming_error(
    tmp_path: Path, world: dict[str, pa.Table]
) -> None:
    with pytest.raises(ValueError, match="unknown table"):
        write_folder(tmp_path, {"alerts": world["sites"]}, "csv")
    with pytest.raises(ValueError, match="unknown format"):
        write_folder(tmp_path, world, "json")  # type: ignore[arg-type]


# --- reading: what to read ---------------------------------------------------------------


def test_labels_are_optional_unless_asked_for(tmp_path: Path, world: dict[str, pa.Table]) -> None:
    del world["labels"]
    write_folder(tmp_path, world, "csv")

    assert list(read_folder(tmp_path)) == list(EVENT_TABLES)
    error = read_error(tmp_path, require_labels=True)
    assert error.code == "missing_table"
    assert str(tmp_path) in error.message
    assert "labels" in error.message
    with pytest.raises(BadInput, match="labels"):
        read_folder(tmp_path, ["labels"])


def test_reading_some_tables_reads_only_those(tmp_path: Path, world: dict[str, pa.Table]) -> None:
    write_folder(tmp_path, world, "parquet")

    assert list(read_folder(tmp_path, ["sites", "employees"])) == ["employees", "sites"]
    assert list(read_folder(tmp_path, EVENT_TABLES)) == list(EVENT_TABLES)
    with pytest.raises(ValueError, match="unknown table"):
        read_folder(tmp_path, ["alerts"])
    with pytest.raises(TypeError):
        read_folder(tmp_path, "sites")


# --- reading: errors name the file, the column and the row --------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_missing_table_names_the_folder_and_the_table(
    tmp_path: Path, world: dict[str, pa.Table], fmt: str
) -> None:
    write_folder(tmp_path, world, fmt)  # type: ignore[arg-type]
    (tmp_path / f"scans.{fmt}").unlink()

    error = read_error(tmp_path)
    assert error.code == "missing_table"
    assert str(tmp_path) in error.message
    assert "scans" in error.message


def test_a_folder_that_does_not_exist_is_bad_input(tmp_path: Path) -> None:
    assert read_error(tmp_path / "nowhere").code == "no_folder"


def test_a_missing_csv_column_names_the_file_and_the_column(
    tmp_path: Path, world: dict[str, pa.Table]
) -> None:
    write_folder(tmp_path, world, "csv")
    path = tmp_path / "sites.csv"
    cells = [line.split(",") for line in path.read_text().splitlines()]
    path.write_text("".join(f"{site},{adcode}\n" for site, _kind, adcode in cells))

    error = read_error(tmp_path)
    assert error.code == "missing_column"
    assert f"{tmp_path}/sites.csv:kind" in error.message


def test_a_missing_parquet_column_names_the_file_and_the_column(
    tmp_path: Path, world: dict[str, pa.Table]
) -> None:
    write_folder(tmp_path, world, "parquet")
    pq.write_table(world["accesses"].drop_columns(["decision"]), tmp_path / "accesses.parquet")

    error = read_error(tmp_path)
    assert error.code == "missing_column"
    assert "accesses.parquet:decision" in error.message


def test_extra_columns_are_ignored(tmp_path: Path, world: dict[str, pa.Table]) -> None:
    write_folder(tmp_path, world, "csv")
    path = tmp_path / "sites.csv"
    lines = path.read_text().splitlines()
    path.write_text(
        "\n".join(f"{line},{'note' if i == 0 else 'x'}" for i, line in enumerate(lines))
    )

    assert read_folder(tmp_path)["sites"].equals(world["sites"])


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_value_outside_an_enumeration_is_named_but_not_quoted(tmp_path: Path, fmt: str) -> None:
    rows = world_rows()
    rows["employees"]["role"][2] = "driver"
    table = pa.table(rows["employees"], schema=SCHEMAS["employees"])
    write_folder(tmp_path, build(world_rows()), fmt)  # type: ignore[arg-type]
    if fmt == "csv":
        replace_in(tmp_path / "employees.csv", "station_clerk", "driver")
    else:
        pq.write_table(table, tmp_path / "employees.parquet")

    error = read_error(tmp_path)
    assert error.code == "bad_value"
    assert f"employees.{fmt}:role" in error.message
    assert "row 3" in error.message
    assert "driver" not in error.message


def test_a_csv_time_without_an_offset_names_file_column_and_row(
    tmp_path: Path, world: dict[str, pa.Table]
) -> None:
    write_folder(tmp_path, world, "csv")
    replace_in(tmp_path / "accesses.csv", "2016-10-03T09:16:00+08:00", "2016-10-03T09:16:00")

    error = read_error(tmp_path)
    assert error.code == "no_offset"
    assert f"{tmp_path}/accesses.csv:ts" in error.message
    assert "row 2" in error.message


def test_a_csv_time_that_is_not_a_time_is_its_own_problem(
    tmp_path: Path, world: dict[str, pa.Table]
) -> None:
    write_folder(tmp_path, world, "csv")
    replace_in(tmp_path / "tickets.csv", "2016-10-02T11:45:00+08:00", "soon")

    error = read_error(tmp_path)
    assert error.code == "bad_time"
    assert "tickets.csv:closed_at" in error.message
    assert "row 2" in error.message


def test_a_naive_parquet_timestamp_column_is_refused(
    tmp_path: Path, world: dict[str, pa.Table]
) -> None:
    write_folder(tmp_path, world, "parquet")
    scans = world["scans"]
    naive = scans.set_column(0, "ts", scans["ts"].cast(pa.timestamp("us")))
    pq.write_table(naive, tmp_path / "scans.parquet")

    error = read_error(tmp_path)
    assert error.code == "no_offset"
    assert "scans.parquet:ts" in error.message


def test_a_parquet_file_from_another_writer_converts_to_the_schema(
    tmp_path: Path, world: dict[str, pa.Table]
) -> None:
    """Bring your own logs: large strings, dictionaries, UTC nanoseconds, extra columns."""
    write_folder(tmp_path, world, "parquet")
    labels = world["labels"]
    theirs = pa.table(
        {
            "employee_id": labels["employee_id"].cast(pa.large_string()),
            "scenario": labels["scenario"].dictionary_encode(),
            "started_at": labels["started_at"].cast(pa.timestamp("ns", tz="UTC")),
            "ended_at": labels["ended_at"].cast(pa.timestamp("ms", tz="Asia/Shanghai")),
            "__index_level_0__": [0],
        }
    )
    pq.write_table(theirs, tmp_path / "labels.parquet")

    assert read_folder(tmp_path, ["labels"])["labels"].equals(labels)


def test_an_empty_cell_in_a_required_column_is_a_problem(
    tmp_path: Path, world: dict[str, pa.Table]
) -> None:
    write_folder(tmp_path, world, "csv")
    replace_in(tmp_path / "accesses.csv", ",D01,", ",,")

    error = read_error(tmp_path)
    assert error.code == "empty_value"
    assert "accesses.csv:device_id" in error.message
    assert "row 1" in error.message


@pytest.mark.parametrize(
    ("table", "old", "new", "code"),
    [
        ("employees", "2015-03-01", "01/03/2015", "bad_date"),
        ("senders", "false", "maybe", "bad_bool"),
    ],
)
def test_unparseable_dates_and_bools_name_the_row(
    tmp_path: Path, world: dict[str, pa.Table], table: str, old: str, new: str, code: str
) -> None:
    write_folder(tmp_path, world, "csv")
    replace_in(tmp_path / f"{table}.csv", old, new)

    error = read_error(tmp_path)
    assert error.code == code
    assert "row 1" in error.message
    assert new not in error.message


@pytest.mark.parametrize("where", ["data", "header"])
def test_a_csv_that_is_not_utf8_names_the_file(
    tmp_path: Path, world: dict[str, pa.Table], where: str
) -> None:
    write_folder(tmp_path, world, "csv")
    path = tmp_path / "sites.csv"
    data = path.read_bytes()
    old = b"S02" if where == "data" else b"adcode"
    path.write_bytes(data.replace(old, old + "区".encode("gb18030")))

    error = read_error(tmp_path)
    assert error.code == "not_utf8"
    assert f"{tmp_path}/sites.csv" in error.message


def test_a_csv_with_a_byte_order_mark_reads(tmp_path: Path, world: dict[str, pa.Table]) -> None:
    write_folder(tmp_path, world, "csv")
    path = tmp_path / "sites.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())

    assert read_folder(tmp_path)["sites"].equals(world["sites"])


def test_a_malformed_csv_row_is_named_without_quoting_the_row(
    tmp_path: Path, world: dict[str, pa.Table]
) -> None:
    write_folder(tmp_path, world, "csv")
    replace_in(tmp_path / "sites.csv", "S02,warehouse", "S02,secret,warehouse")

    error = read_error(tmp_path)
    assert error.code == "bad_csv"
    assert "sites.csv" in error.message
    assert "secret" not in error.message


def test_an_empty_csv_file_has_no_header(tmp_path: Path, world: dict[str, pa.Table]) -> None:
    write_folder(tmp_path, world, "csv")
    (tmp_path / "sites.csv").write_bytes(b"")

    assert read_error(tmp_path).code == "no_header"


def test_a_truncated_parquet_file_names_the_file(
    tmp_path: Path, world: dict[str, pa.Table]
) -> None:
    write_folder(tmp_path, world, "parquet")
    path = tmp_path / "accesses.parquet"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])

    error = read_error(tmp_path)
    assert error.code == "bad_parquet"
    assert f"{tmp_path}/accesses.parquet" in error.message


def test_a_csv_named_parquet_is_not_parquet(tmp_path: Path, world: dict[str, pa.Table]) -> None:
    write_folder(tmp_path, world, "csv")
    (tmp_path / "sites.csv").rename(tmp_path / "sites.parquet")

    assert read_error(tmp_path).code == "bad_parquet"


def test_a_table_in_both_formats_is_ambiguous(tmp_path: Path, world: dict[str, pa.Table]) -> None:
    write_folder(tmp_path, world, "csv")
    write_folder(tmp_path / "p", world, "parquet")
    (tmp_path / "p" / "sites.parquet").rename(tmp_path / "sites.parquet")

    error = read_error(tmp_path)
    assert error.code == "ambiguous_table"
    assert "sites.parquet" in error.message
    assert "sites.csv" in error.message


def test_times_before_1970_and_far_ahead_survive_csv(tmp_path: Path) -> None:
    rows = world_rows()
    rows["labels"]["started_at"] = [datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)]
    rows["labels"]["ended_at"] = [at(31, 23, 59, 59, 1)]
    labels = build(rows)["labels"]
    write_folder(tmp_path, {"labels": labels}, "csv")

    assert "1970-01-01T07:59:59.999999+08:00" in (tmp_path / "labels.csv").read_text()
    assert read_folder(tmp_path, ["labels"])["labels"].equals(labels)
