"""Small simulated worlds for the detection tests, each written once per test session.

Sizes follow ``tests/simulate``: big enough that peer groups have peers, small enough that
the whole folder is simulated and written in well under a second.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from parcelguard.events import write_folder
from parcelguard.simulate.run import scenario_names, simulate
from parcelguard.simulate.world import WorldConfig

SMALL = WorldConfig(seed=7, days=4, employees=600, waybills_per_day=3_000, start=date(2016, 10, 1))
TINY = WorldConfig(seed=5, days=2, employees=200, waybills_per_day=600, start=date(2016, 10, 1))


def _world(factory: pytest.TempPathFactory, name: str, config: WorldConfig, scenarios: str) -> Path:
    folder = factory.mktemp(name)
    tables: dict[str, pa.Table] = simulate(config, scenario_names(scenarios))
    write_folder(folder, tables, "parquet")
    return folder


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _world(tmp_path_factory, "small", SMALL, "all")


@pytest.fixture(scope="session")
def honest_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _world(tmp_path_factory, "honest", SMALL, "none")


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _world(tmp_path_factory, "tiny", TINY, "all")
