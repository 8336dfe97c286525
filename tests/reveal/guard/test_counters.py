"""The guard's window counters: what the guard relies on, on SQLite, PostgreSQL and Redis."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pytest

from parcelguard.core.errors import BadInput
from parcelguard.reveal.guard.counters import GuardStateUnavailable
from parcelguard.reveal.guard.counters_redis import RedisCounters
from parcelguard.reveal.guard.counters_store import StoreCounters
from parcelguard.storage import connect_store
from tests.reveal.guard.conftest import Backend

T0 = 1_800_000_000  # a minute boundary (2027-01-15 08:00 UTC)
DAY = 86_400


# -- counting ------------------------------------------------------------------------------------


def test_counts_are_before_this_calls_increments_and_add_up(counter_backend: Backend) -> None:
    counters = counter_backend.counters()
    assert counters.observe({"E1": {"reveal": 2, "plaintext": 1}}, T0) == {"E1": {}}
    assert counters.observe({"E1": {"reveal": 3}}, T0 + 5) == {
        "E1": {"reveal": (2, 2, 2), "plaintext": (1, 1, 1)}
    }
    assert counters.observe({"E1": {"denied": 1}}, T0 + 70) == {
        "E1": {"reveal": (5, 5, 5), "plaintext": (1, 1, 1)}
    }
    assert counters.observe({"E1": {}}, T0 + 80) == {
        "E1": {"reveal": (5, 5, 5), "plaintext": (1, 1, 1), "denied": (1, 1, 1)}
    }


def test_an_event_601_seconds_ago_left_the_ten_minutes_but_not_the_hour(
    counter_backend: Backend,
) -> None:
    counters = counter_backend.counters()
    now = T0 + DAY
    counters.observe({"E1": {"reveal": 1}}, now - DAY - 1)  # left every window: stale
    counters.observe({"E1": {"reveal": 10}}, now - 3_601)  # in the day only
    counters.observe({"E1": {"reveal": 100}}, now - 601)  # in the hour and the day
    counters.observe({"E1": {"reveal": 1_000}}, now - 540)  # a bucket 540 s old: in all
    counters.observe({"E1": {"reveal": 10_000}}, now)  # the current bucket is always in
    got = counters.observe({"E1": {}}, now)
    assert got == {"E1": {"reveal": (11_000, 11_100, 11_110)}}


def test_a_window_is_exact_to_the_minute_by_bucket_start(counter_backend: Backend) -> None:
    counters = counter_backend.counters()
    counters.observe({"E1": {"reveal": 1}}, T0 + 59)  # bucket T0
    assert counters.observe({"E1": {}}, T0 + 599)["E1"]["reveal"][0] == 1
    assert counters.observe({"E1": {}}, T0 + 600)["E1"]["reveal"][0] == 0  # T0 <= now - 600
    assert counters.observe({"E1": {}}, T0 + 600)["E1"]["reveal"][1] == 1


def test_a_bucket_from_a_clock_running_ahead_still_counts(counter_backend: Backend) -> None:
    """Another instance's clock a few seconds ahead must not let its events escape ours."""
    counters = counter_backend.counters()
    counters.observe({"E1": {"reveal": 1}}, T0 + 60)
    assert counters.observe({"E1": {"reveal": 1}}, T0 + 58) == {"E1": {"reveal": (1, 1, 1)}}


def test_several_actors_in_one_call_are_counted_apart(counter_backend: Backend) -> None:
    counters = counter_backend.counters()
    counters.observe({"E1": {"reveal": 1}, "E2": {"reveal": 2, "foreign": 1}}, T0)
    got = counters.observe({"E2": {"reveal": 1}, "E3": {"unlinked": 1}, "E1": {}}, T0 + 1)
    assert got == {
        "E1": {"reveal": (1, 1, 1)},
        "E2": {"reveal": (2, 2, 2), "foreign": (1, 1, 1)},
        "E3": {},
    }
    assert counters.observe({"E2": {}}, T0 + 2) == {
        "E2": {"reveal": (3, 3, 3), "foreign": (1, 1, 1)}
    }


def test_a_hundred_actors_in_one_call(counter_backend: Backend) -> None:
    counters = counter_backend.counters()
    batch = {f"E{i:03d}": {"reveal": i + 1} for i in range(100)}
    counters.observe(batch, T0)
    got = counters.observe(batch, T0 + 1)
    assert got == {f"E{i:03d}": {"reveal": (i + 1,) * 3} for i in range(100)}


def test_custom_windows_are_answered_in_their_order(counter_backend: Backend) -> None:
    counters = counter_backend.counters((60, 300))
    assert counters.windows == (60, 300)
    counters.observe({"E1": {"reveal": 1}}, T0)
    counters.observe({"E1": {"reveal": 1}}, T0 + 120)
    assert counters.observe({"E1": {}}, T0 + 150) == {"E1": {"reveal": (1, 2)}}


def test_an_empty_call_asks_nothing(counter_backend: Backend) -> None:
    counters = counter_backend.counters()
    assert counters.observe({}, T0) == {}
    assert counters.first_seen([], T0) == []


# -- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("increments", "now", "named"),
    [
        ({"": {"reveal": 1}}, T0, "increments: actor: must be a non-empty string"),
        ({"E" * 65: {"reveal": 1}}, T0, "longer than 64 characters"),
        ({"E\n1": {"reveal": 1}}, T0, r"actor 'E\\n1': contains a control character"),
        ({"E1": {"reveal": 0}}, T0, r"increments\['E1'\]\['reveal'\]: 0 is not a positive"),
        ({"E1": {"reveal": -3}}, T0, r"\['reveal'\]: -3 is not a positive"),
        ({"E1": {"reveal": True}}, T0, r"\['reveal'\]: True is not a positive"),
        ({"E1": {"reveal": 1.5}}, T0, r"\['reveal'\]: 1.5 is not a positive"),
        ({"E1": {"": 1}}, T0, r"increments\['E1'\]: kind: must be a non-empty string"),
        ({"E1": {"k" * 33: 1}}, T0, "kind 'kkk.*longer than 32 characters"),
        ({"E1": ["reveal"]}, T0, r"increments\['E1'\]: give a mapping"),
        ({1: {"reveal": 1}}, T0, "increments: actor: must be a non-empty string"),
        ({"E1": {"reveal": 1}}, -1, "now: -1 is not POSIX seconds"),
        ({"E1": {"reveal": 1}}, 1.5, "now: 1.5 is not POSIX seconds"),
    ],
)
def test_bad_observe_input_is_named_and_changes_nothing(
    counter_backend: Backend, increments: object, now: object, named: str
) -> None:
    counters = counter_backend.counters()
    with pytest.raises(BadInput, match=named):
        counters.observe({"E0": {"reveal": 1}, **increments}, now)  # type: ignore[dict-item]
    assert counters.observe({"E0": {}}, T0) == {"E0": {}}


@pytest.mark.parametrize(
    ("pairs", "named"),
    [
        ([("E1", "d1"), ("E1", "")], r"pairs\[1\]: key: must be a non-empty string"),
        ([("E1", "k" * 129)], r"pairs\[0\]: key: longer than 128 characters"),
        ([("E1", "d\x00")], r"pairs\[0\]: key: contains a control character"),
        ([("", "d1")], r"pairs\[0\]: actor: must be a non-empty string"),
        ([("E1",)], r"pairs\[0\]: not an \(actor, key\) pair"),
    ],
)
def test_bad_first_seen_input_is_named(
    counter_backend: Backend, pairs: list[tuple[str, ...]], named: str
) -> None:
    counters = counter_backend.counters()
    with pytest.raises(BadInput, match=named):
        counters.first_seen(pairs, T0)  # type: ignore[arg-type]
    assert counters.first_seen([("E1", "d1")], T0) == [True]  # nothing was remembered


def test_a_sighting_key_is_never_echoed_in_an_error(counter_backend: Backend) -> None:
    """Sighting keys may be network prefixes: errors name them by position only."""
    counters = counter_backend.counters()
    with pytest.raises(BadInput) as info:
        counters.first_seen([("E1", "10.20.30.\x00" + "x" * 200)], T0)
    assert "10.20.30" not in info.value.message


def test_bad_windows_and_bad_forget_are_named(counter_backend: Backend) -> None:
    with pytest.raises(BadInput, match="windows: give each length once, shortest first"):
        counter_backend.counters((3_600, 600))
    with pytest.raises(BadInput, match="windows: 0 is not a positive"):
        counter_backend.counters((0, 600))
    with pytest.raises(BadInput, match="windows: give a non-empty tuple"):
        counter_backend.counters(())
    with pytest.raises(BadInput, match="actor: must be a non-empty string"):
        counter_backend.counters().forget("")


# -- first sightings and forgetting --------------------------------------------------------------


def test_first_seen_is_true_once_per_pair(counter_backend: Backend) -> None:
    counters = counter_backend.counters()
    pairs = [("E1", "dev-1"), ("E1", "dev-1"), ("E2", "dev-1"), ("E1", "10.0.0.0/24")]
    assert counters.first_seen(pairs, T0) == [True, False, True, True]
    assert counters.first_seen([("E1", "dev-1"), ("E1", "dev-2")], T0 + 1) == [False, True]
    assert counters.first_seen(pairs, T0 + 2) == [False, False, False, False]


def test_forget_drops_the_actors_counts_but_not_its_sightings(counter_backend: Backend) -> None:
    counters = counter_backend.counters()
    counters.observe({"E1": {"reveal": 5}, "E2": {"reveal": 1}}, T0)
    counters.first_seen([("E1", "dev-1")], T0)
    counters.forget("E1")
    counters.forget("E9")  # never seen: nothing to do, no error
    assert counters.observe({"E1": {"reveal": 1}, "E2": {}}, T0 + 1) == {
        "E1": {},
        "E2": {"reveal": (1, 1, 1)},
    }
    assert counters.first_seen([("E1", "dev-1")], T0 + 2) == [False]


# -- bounded storage -----------------------------------------------------------------------------


def test_buckets_older_than_the_longest_window_are_deleted(counter_backend: Backend) -> None:
    counters = counter_backend.counters()
    for minute in range(5):
        counters.observe({"E1": {"reveal": 1, "denied": 1}}, T0 + 60 * minute)
    assert counter_backend.buckets_held("E1") == 10
    got = counters.observe({"E1": {"reveal": 1}}, T0 + DAY + 120)  # buckets T0..T0+120 left
    assert got == {"E1": {"reveal": (0, 0, 2), "denied": (0, 0, 2)}}
    assert counter_backend.buckets_held("E1") == 5  # 2 reveal + 2 denied + the new one


def test_an_actor_nobody_touches_again_is_not_kept(counter_backend: Backend) -> None:
    counters = counter_backend.counters()
    counters.observe({"E1": {"reveal": 1}, "E2": {"reveal": 1}}, T0)
    if counter_backend.client is not None:
        # Redis drops the whole hash once the longest window passed without a write.
        ttl = counter_backend.client.ttl(f"{counter_backend.prefix}counts:E2")
        assert 0 < ttl <= DAY + 60
        return
    counters.observe({"E1": {"reveal": 1}}, T0 + DAY + 3_600)  # the hourly sweep is due
    assert counter_backend.buckets_held("E2") == 0


# -- several processes ---------------------------------------------------------------------------

WORKER = """
import json, sys
from parcelguard.reveal.guard.counters_redis import RedisCounters
from parcelguard.reveal.guard.counters_store import StoreCounters
from parcelguard.storage import connect_store

backend, url, prefix, calls, now = sys.argv[1:6]
if backend == "redis":
    counters = RedisCounters.from_url(url, prefix=prefix, timeout=5)
else:
    counters = StoreCounters(connect_store(url))
print("ready", flush=True)
sys.stdin.readline()
befores = []
for _ in range(int(calls)):
    got = counters.observe({"E1": {"reveal": 1}}, int(now))
    befores.append(got["E1"].get("reveal", (0,))[0])
print(json.dumps(befores), flush=True)
"""


def test_two_processes_share_one_quota_exactly(counter_backend: Backend) -> None:
    """2 processes x 200 calls: 400 counted, and no two callers saw the same count before."""
    args = [counter_backend.name, counter_backend.url, counter_backend.prefix, "200", str(T0)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready"
        for worker in workers:  # both start at once
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        outputs = [worker.communicate(timeout=120)[0] for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    assert [worker.returncode for worker in workers] == [0, 0]
    befores = [before for out in outputs for before in json.loads(out.splitlines()[-1])]
    assert sorted(befores) == list(range(400))
    assert counter_backend.counters().observe({"E1": {}}, T0) == {"E1": {"reveal": (400,) * 3}}


# -- failures ------------------------------------------------------------------------------------


def test_an_unreachable_redis_fails_fast_and_says_so() -> None:
    counters = RedisCounters.from_url("redis://:secret@127.0.0.1:1/0")
    for call in (
        lambda: counters.observe({"E1": {"reveal": 1}}, T0),
        lambda: counters.first_seen([("E1", "dev-1")], T0),
        lambda: counters.forget("E1"),
    ):
        started = time.monotonic()
        with pytest.raises(GuardStateUnavailable, match=r"Redis at 127\.0\.0\.1:1: cannot") as info:
            call()
        assert time.monotonic() - started < 2
        assert "secret" not in info.value.message
        assert info.value.code == "guard_unavailable"


def test_a_bad_redis_url_is_bad_input() -> None:
    with pytest.raises(BadInput, match="Redis URL"):
        RedisCounters.from_url("http://127.0.0.1:6379")


def test_a_foreign_value_in_redis_is_guard_state_unavailable(redis_backend: Backend) -> None:
    client = redis_backend.client
    assert client is not None
    counters = redis_backend.counters()
    client.set(f"{redis_backend.prefix}counts:E2", "not a hash")
    with pytest.raises(GuardStateUnavailable, match=r"Redis at .*: cannot count .*WRONGTYPE"):
        counters.observe({"E1": {"reveal": 1}, "E2": {"reveal": 1}}, T0)
    assert counters.observe({"E1": {}}, T0) == {"E1": {}}  # nothing was applied
    client.hset(f"{redis_backend.prefix}totals:E3", "junk", "1")
    with pytest.raises(GuardStateUnavailable, match="not a guard counts hash"):
        counters.observe({"E3": {"reveal": 1}}, T0)
    client.set(f"{redis_backend.prefix}seen:E1", "not a set")
    with pytest.raises(GuardStateUnavailable, match="cannot remember first sightings"):
        counters.first_seen([("E1", "dev-1")], T0)


def test_a_redis_that_never_answers_times_out_fast() -> None:
    """A server that accepts connections but hangs (a socket nobody reads) is a timeout."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        counters = RedisCounters.from_url(f"redis://127.0.0.1:{port}/0", timeout=0.2)
        started = time.monotonic()
        with pytest.raises(GuardStateUnavailable, match=r"Redis at 127\.0\.0\.1:\d+: cannot count"):
            counters.observe({"E1": {"reveal": 1}}, T0)
        assert time.monotonic() - started < 1


def test_a_store_without_the_guard_tables_is_guard_state_unavailable(tmp_path) -> None:
    engine = connect_store(f"sqlite:///{tmp_path / 'empty.db'}", create=True)
    try:
        counters = StoreCounters(engine)
        with pytest.raises(GuardStateUnavailable, match="guard windows in the store: cannot"):
            counters.observe({"E1": {"reveal": 1}}, T0)
        with pytest.raises(GuardStateUnavailable, match="cannot remember first sightings"):
            counters.first_seen([("E1", "dev-1")], T0)
    finally:
        engine.dispose()


def test_the_windows_table_is_bounded_by_its_key(counter_backend: Backend) -> None:
    """The same (actor, kind, minute) is one row or field however many events it holds."""
    counters = counter_backend.counters()
    for second in range(0, 60, 3):
        counters.observe({"E1": {"reveal": 7}}, T0 + second)
    assert counter_backend.buckets_held("E1") == 1
    assert counters.observe({"E1": {}}, T0 + 59) == {"E1": {"reveal": (140, 140, 140)}}
