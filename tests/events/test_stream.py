"""Streaming a world chunk by chunk writes the same files as writing it whole."""

from pathlib import Path

import pyarrow as pa
import pytest

from parcelguard.events import read_folder, write_folder, write_folder_chunks
from parcelguard.simulate.run import simulate
from parcelguard.simulate.world import WorldConfig


@pytest.fixture(scope="module")
def world() -> dict[str, pa.Table]:
    return simulate(WorldConfig(seed=3, days=2, employees=300, waybills_per_day=1_000), ["snooper"])


def chunks(world: dict[str, pa.Table], size: int):
    for name, table in world.items():
        for offset in range(0, max(table.num_rows, 1), size):
            yield name, table.slice(offset, size)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_chunks_and_whole_tables_give_the_same_bytes(
    tmp_path: Path, world: dict[str, pa.Table], fmt: str
) -> None:
    whole = write_folder(tmp_path / "whole", world, fmt)  # type: ignore[arg-type]
    streamed = write_folder_chunks(tmp_path / "streamed", chunks(world, 777), fmt)  # type: ignore[arg-type]
    assert streamed == whole
    for name in world:
        a = (tmp_path / "whole" / f"{name}.{fmt}").read_bytes()
        b = (tmp_path / "streamed" / f"{name}.{fmt}").read_bytes()
        assert a == b, name
    back = read_folder(tmp_path / "streamed")
    assert back["accesses"].equals(read_folder(tmp_path / "whole")["accesses"])


def test_a_bad_chunk_leaves_the_folder_as_it_was(
    tmp_path: Path, world: dict[str, pa.Table]
) -> None:
    def broken():
        yield "sites", world["sites"]
        yield "employees", world["employees"].drop_columns(["role"])

    with pytest.raises(Exception, match="role"):
        write_folder_chunks(tmp_path, broken(), "parquet")
    assert list(tmp_path.iterdir()) == []
