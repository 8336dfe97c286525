"""The guard's windows in Redis: shared by every service instance behind a load balancer.

Each actor's counts are one hash, ``<prefix>counts:<actor>``, with a field per one-minute
bucket and kind (``<bucket start>:<kind>``). One ``observe`` is one Lua script, so one round
trip and atomic: Redis runs scripts one at a time, so two instances' calls never interleave
and the later one sees the earlier one's increments. The script sums the windows itself
(an actor busy all day has thousands of fields; sending them all back would cost more than
the sums) and deletes the fields that fell out of the longest window, so a hash never holds
more than a day of buckets. The hash expires one bucket after the longest window without a
write, so actors who went quiet cost no memory.

Script-based rather than per-field expiry (``HEXPIRE``) because that needs Redis 7.4, and
rather than a ``MULTI`` pipeline because a pipeline cannot delete stale fields it has not
read yet. Keys hold employee ids (not personal data); sighting keys are set members, never
key names.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from parcelguard.core.errors import BadInput
from parcelguard.reveal.guard.counters import (
    BUCKET_SECONDS,
    DEFAULT_WINDOWS,
    Counts,
    GuardStateUnavailable,
)
from parcelguard.reveal.guard.counters_store import (
    check_actor,
    check_increments,
    check_now,
    check_pairs,
    check_windows,
)

DEFAULT_PREFIX = "parcelguard:guard:"
SEEN_TTL = 90 * 86_400
"""A first sighting is remembered for 90 days after the actor's last sighting of anything."""
DEFAULT_TIMEOUT = 0.5
"""Seconds to connect or to wait for an answer: a lost Redis must fail a reveal fast, not hang."""

# KEYS: the actors' count hashes. ARGV: now, ttl, number of windows, the windows (shortest
# first), then for each key: how many fields to add, then (field, increment) pairs.
# Everything is read and checked before anything is written, so a foreign key or field
# fails the whole call with nothing applied.
_OBSERVE_LUA = """
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local nw = tonumber(ARGV[3])
local after = {}
for j = 1, nw do after[j] = now - tonumber(ARGV[3 + j]) end
local oldest = after[nw]
local answer, stale = {}, {}
for i, key in ipairs(KEYS) do
  local flat = redis.call('HGETALL', key)
  local sums, kinds, old = {}, {}, {}
  for f = 1, #flat, 2 do
    local field = flat[f]
    local sep = string.find(field, ':', 1, true)
    local bucket = sep and tonumber(string.sub(field, 1, sep - 1))
    local n = tonumber(flat[f + 1])
    if not bucket or not n then
      return redis.error_reply('not a guard counts hash: ' .. key)
    end
    if bucket <= oldest then
      old[#old + 1] = field
    else
      local kind = string.sub(field, sep + 1)
      local s = sums[kind]
      if not s then
        s = {}
        for j = 1, nw do s[j] = 0 end
        sums[kind] = s
        kinds[#kinds + 1] = kind
      end
      -- Windows are shortest first: the bucket is in the first one it fits and every longer
      -- one, so add it once there and let the running total below carry it on.
      local j = 1
      while bucket <= after[j] do j = j + 1 end
      s[j] = s[j] + n
    end
  end
  local out = {}
  for _, kind in ipairs(kinds) do
    out[#out + 1] = kind
    local s, total = sums[kind], 0
    for j = 1, nw do
      total = total + s[j]
      out[#out + 1] = total
    end
  end
  answer[i] = out
  stale[i] = old
end
local pos = 4 + nw
for i, key in ipairs(KEYS) do
  local old = stale[i]
  for s = 1, #old, 1000 do
    redis.call('HDEL', key, unpack(old, s, math.min(s + 999, #old)))
  end
  local m = tonumber(ARGV[pos])
  pos = pos + 1
  for _ = 1, m do
    redis.call('HINCRBY', key, ARGV[pos], ARGV[pos + 1])
    pos = pos + 2
  end
  if m > 0 then redis.call('EXPIRE', key, ttl) end
end
return answer
"""


class RedisCounters:
    """:class:`~parcelguard.reveal.guard.counters.WindowCounters` in a Redis server.

    ``prefix`` starts every key, so several installations (or tests) can share one server.
    Prefer :meth:`from_url`: it sets the short timeouts a guard needs.
    """

    def __init__(
        self,
        client: redis.Redis,
        windows: tuple[int, ...] = DEFAULT_WINDOWS,
        *,
        prefix: str = DEFAULT_PREFIX,
        seen_ttl: int = SEEN_TTL,
    ) -> None:
        if not isinstance(prefix, str) or not prefix:
            raise BadInput("prefix: give a non-empty key prefix")
        if not isinstance(seen_ttl, int) or seen_ttl <= 0:
            raise BadInput("seen_ttl: give a positive number of seconds")
        self._client = client
        self._windows = check_windows(windows)
        self._prefix = prefix
        self._seen_ttl = seen_ttl
        self._observe = client.register_script(_OBSERVE_LUA)

    @classmethod
    def from_url(
        cls,
        url: str,
        windows: tuple[int, ...] = DEFAULT_WINDOWS,
        *,
        prefix: str = DEFAULT_PREFIX,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> RedisCounters:
        """Counters on the Redis at ``url`` (``redis://host:port/db``, ``rediss://``, ``unix://``).

        No retry: a call that timed out may have run, and running it again would count its
        events twice. Connections are opened on first use, so a Redis that is down is reported
        by the first call, as :class:`GuardStateUnavailable`.
        """
        try:
            client = redis.Redis.from_url(
                url,
                socket_connect_timeout=timeout,
                socket_timeout=timeout,
                retry=Retry(NoBackoff(), 0),
            )
        except ValueError as exc:
            raise BadInput(f"Redis URL: {exc}") from None
        return cls(client, windows, prefix=prefix)

    @property
    def windows(self) -> tuple[int, ...]:
        return self._windows

    def observe(self, increments: Mapping[str, Mapping[str, int]], now: int) -> dict[str, Counts]:
        plan = check_increments(increments)
        check_now(now)
        if not plan:
            return {}
        actors = sorted(plan)
        bucket = now // BUCKET_SECONDS * BUCKET_SECONDS
        args: list[int | str] = [now, self._windows[-1] + BUCKET_SECONDS, len(self._windows)]
        args.extend(self._windows)
        for actor in actors:
            args.append(len(plan[actor]))
            for kind, n in sorted(plan[actor].items()):
                args.extend((f"{bucket}:{kind}", n))
        with self._unavailable_as_guard_error("count"):
            answer = self._observe(keys=[self._counts_key(a) for a in actors], args=args)
            counts = {
                a: _parse_counts(flat, len(self._windows))
                for a, flat in zip(actors, answer, strict=True)
            }
        return {actor: counts[actor] for actor in plan}

    def first_seen(self, pairs: Sequence[tuple[str, str]], now: int) -> list[bool]:
        checked = check_pairs(pairs)
        check_now(now)
        if not checked:
            return []
        with self._unavailable_as_guard_error("remember first sightings"):
            pipe = self._client.pipeline(transaction=True)
            for actor, key in checked:
                pipe.sadd(self._seen_key(actor), key)
            for actor in sorted({actor for actor, _ in checked}):
                pipe.expire(self._seen_key(actor), self._seen_ttl)
            results = pipe.execute()
            return [_as_int(added) == 1 for added in results[: len(checked)]]

    def forget(self, actor: str) -> None:
        check_actor("actor", actor)
        with self._unavailable_as_guard_error("forget"):
            self._client.delete(self._counts_key(actor))

    def _counts_key(self, actor: str) -> str:
        return f"{self._prefix}counts:{actor}"

    def _seen_key(self, actor: str) -> str:
        return f"{self._prefix}seen:{actor}"

    @contextmanager
    def _unavailable_as_guard_error(self, doing: str) -> Iterator[None]:
        """Any Redis failure (down, slow, a foreign key) becomes one clear, catchable error."""
        try:
            yield
        except redis.exceptions.RedisError as exc:
            raise GuardStateUnavailable(
                f"Redis at {self._where()}: cannot {doing} ({_first_line(exc)})"
            ) from None
        except (TypeError, ValueError):
            raise GuardStateUnavailable(
                f"Redis at {self._where()}: cannot {doing} (an answer of the wrong shape)"
            ) from None

    def _where(self) -> str:
        """The server's address for messages (never its password)."""
        kwargs = self._client.connection_pool.connection_kwargs
        if "path" in kwargs:
            return str(kwargs["path"])
        return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"


def _parse_counts(flat: Any, windows: int) -> Counts:
    """The script's ``[kind, count per window..., kind, ...]`` as :data:`Counts`."""
    if not isinstance(flat, list) or len(flat) % (windows + 1):
        raise ValueError("not a list of kinds and counts")
    counts: Counts = {}
    for start in range(0, len(flat), windows + 1):
        kind = flat[start]
        name = kind.decode() if isinstance(kind, bytes) else str(kind)
        counts[name] = tuple(_as_int(v) for v in flat[start + 1 : start + 1 + windows])
    return counts


def _as_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not an integer")
    return value


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
