"""Both window backends agree with a plain-Python model on random sequences of observations.

Why a model: Redis keeps running totals per window (moved as buckets cross each window's
cut-off) while the store sums its buckets on every call; the two must give the same answer
for any history, and both must be what counters.py promises: a window of N seconds holds the
buckets that started after ``now - N``. The same goes for the runs of ascending serials.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parcelguard.reveal.guard.counters import (
    BUCKET_SECONDS,
    DEFAULT_WINDOWS,
    RUN_GAP,
    RUN_IDLE,
    Counts,
    Observed,
    Run,
    advance,
    current,
)
from parcelguard.reveal.guard.counters_redis import RedisCounters
from parcelguard.reveal.guard.counters_store import StoreCounters
from parcelguard.storage import connect_store, upgrade
from tests.reveal.guard.conftest import redis_client

T0 = 1_800_000_000
ACTORS = ("E1", "E2", "E3")
KINDS = ("sensitive", "denied")


@dataclass
class Model:
    """Every event ever added, summed on demand; runs advanced by the documented rule."""

    windows: tuple[int, ...]
    events: list[tuple[str, str, int, int]] = field(default_factory=list)
    runs: dict[str, Run] = field(default_factory=dict)

    def record(
        self, increments: dict[str, dict[str, int]], serials: dict[str, list[int]], now: int
    ) -> Observed:
        actors = set(increments) | {a for a, s in serials.items() if s}
        counts: dict[str, Counts] = {}
        for actor in actors:
            mine: dict[str, list[int]] = {}
            for who, kind, bucket, n in self.events:
                if who == actor:
                    sums = mine.setdefault(kind, [0] * len(self.windows))
                    for j, window in enumerate(self.windows):
                        if bucket > now - window:
                            sums[j] += n
            counts[actor] = {k: tuple(v) for k, v in mine.items() if any(v)}
        runs = {actor: current(self.runs.get(actor), now) for actor in actors}
        bucket = now // BUCKET_SECONDS * BUCKET_SECONDS
        for actor, kinds in increments.items():
            self.events += [(actor, kind, bucket, n) for kind, n in kinds.items()]
        for actor, numbers in serials.items():
            run = self.runs.get(actor)
            for serial in numbers:
                run = advance(run, serial, now)
            if run is not None:
                self.runs[actor] = run
        return Observed(counts, runs)


def without_zeros(observed: Observed) -> Observed:
    """Kinds whose every window is zero may be absent (the protocol says so): drop them."""
    counts = {a: {k: v for k, v in c.items() if any(v)} for a, c in observed.counts.items()}
    return Observed(counts, observed.runs)


@pytest.fixture(scope="module")
def store_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    path: Path = tmp_path_factory.mktemp("model") / "parcelguard.db"
    engine = connect_store(f"sqlite:///{path}", create=True)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def client() -> Iterator[redis.Redis]:
    connection = redis_client()
    yield connection
    connection.close()


steps = st.lists(
    st.tuples(
        st.one_of(
            st.sampled_from([0, 1, 59, 60, 61, 599, 600, 601, 3_599, 3_601, 86_399, 86_401]),
            st.integers(0, 7_200),
        ),
        st.dictionaries(
            st.sampled_from(ACTORS),
            st.dictionaries(st.sampled_from(KINDS), st.integers(1, 5), max_size=2),
            max_size=3,
        ),
        st.dictionaries(
            st.sampled_from(ACTORS),
            st.lists(
                st.one_of(
                    st.integers(1_000, 1_000 + 3 * RUN_GAP),
                    st.sampled_from([1_000, 1_001, 1_002, 1_000 + RUN_GAP, 1_001 + RUN_GAP]),
                ),
                max_size=4,
            ),
            max_size=2,
        ),
    ),
    min_size=1,
    max_size=16,
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=steps, windows=st.sampled_from([DEFAULT_WINDOWS, (60, 300), (30, 90, 3_600)]))
def test_store_redis_and_the_model_agree(
    store_engine: sa.Engine,
    client: redis.Redis,
    steps: list[tuple[int, dict[str, dict[str, int]], dict[str, list[int]]]],
    windows: tuple[int, ...],
) -> None:
    tag = secrets.token_hex(4)  # this example's actors and keys, apart from every other one
    prefix = f"parcelguard:test:model:{tag}:"
    store = StoreCounters(store_engine, windows)
    shared = RedisCounters(client, windows, prefix=prefix)
    model = Model(windows)
    now = T0
    try:
        for dt, increments, serials in steps:
            now += dt
            named_inc = {f"{a}-{tag}": k for a, k in increments.items()}
            named_ser = {f"{a}-{tag}": s for a, s in serials.items()}
            want = model.record(named_inc, named_ser, now)
            got_store = without_zeros(store.record(named_inc, named_ser, now))
            got_redis = without_zeros(shared.record(named_inc, named_ser, now))
            assert got_store == want
            assert got_redis == want
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1_000))
        if keys:
            client.delete(*keys)


READS = ("cmdstat_hgetall", "cmdstat_hmget", "cmdstat_zrangebyscore", "cmdstat_hlen")


def test_a_redis_call_costs_the_same_whatever_the_history(client: redis.Redis) -> None:
    """Running totals: a call reads only the buckets that crossed a cut-off since the last one.

    Measured as work, not time (time is noisy on a shared machine): the script's commands,
    from Redis's own command statistics, for a call after 2 hours and after 15 hours of
    one-minute history are the same (and the old script's one HGETALL of every field is gone:
    ``HGETALL`` now reads only the small totals hash).
    """
    prefix = f"parcelguard:test:cost:{secrets.token_hex(4)}:"
    counters = RedisCounters(client, prefix=prefix)
    try:

        def calls() -> dict[str, int]:
            stats = client.info("commandstats")
            return {k: int(v["calls"]) for k, v in stats.items() if k in READS}

        def commands_of_one_call(minutes: int, actor: str) -> int:
            for minute in range(minutes):
                counters.observe({actor: {"sensitive": 1, "denied": 1}}, T0 + 60 * minute)
            before = calls()
            counters.observe({actor: {"sensitive": 1}}, T0 + 60 * minutes)
            after = calls()
            return sum(after.get(k, 0) - before.get(k, 0) for k in READS)

        short = commands_of_one_call(120, "E-short")
        long = commands_of_one_call(900, "E-long")
        assert long == short
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1_000))
        if keys:
            client.delete(*keys)


def test_runs_follow_ascending_serials_on_every_backend(counter_backend) -> None:  # type: ignore[no-untyped-def]
    counters = counter_backend.counters()
    first = counters.record({}, {"E1": [100, 105, 105, 110]}, T0)
    assert first.runs == {"E1": None}
    assert first.counts == {"E1": {}}
    after = counters.record({"E1": {"sensitive": 1}}, {"E1": [120]}, T0 + 60)
    assert after.runs == {"E1": Run(110, 3, T0)}
    down = counters.record({}, {"E1": [50]}, T0 + 120)
    assert down.runs == {"E1": Run(120, 4, T0 + 60)}
    assert counters.record({}, {"E1": [51]}, T0 + 180).runs == {"E1": Run(50, 1, T0 + 120)}
    # An hour and more without a request: the run is forgotten.
    idle = T0 + 180 + RUN_IDLE + 1
    assert counters.record({}, {"E1": [52]}, idle).runs == {"E1": None}
    counters.forget("E1")
    assert counters.record({}, {"E1": [53]}, idle + 1).runs == {"E1": None}
