"""The guard's windows in Redis: shared by every service instance behind a load balancer.

Each actor has three keys: ``<prefix>counts:<actor>``, a hash with a field per one-minute
bucket and kind (``<bucket start>:<kind>``); ``<prefix>buckets:<actor>``, the same fields in
a sorted set scored by their bucket; and ``<prefix>totals:<actor>``, a hash of running
totals per window and kind (``t:<window>:<kind>``), the cut-off each total was last moved to
(``f:<window>``) and the actor's run of ascending serials (``run``).

Why running totals: summing every stored minute on each call made a call's cost grow with
the actor's history (173 ms per 100 actors at 600 minutes, bench/guard_counters.py). Now a
call moves each window's cut-off to ``now - window`` and subtracts just the buckets that
crossed it (found in the sorted set, each bucket once per window), so its cost is the number
of kinds and windows plus the buckets that left, whatever the history. The totals stay exact
to the minute, as :mod:`~parcelguard.reveal.guard.counters` documents: a window's total is
always the sum of the held buckets that started after its cut-off. A clock slightly behind
(another instance) moves a cut-off back, and the buckets between are added back; a window
with no cut-off yet (a new actor, or a window length the configuration just added) is summed
from the held buckets once. Buckets that left the longest window are deleted.

One ``observe`` is one Lua script, so one round trip and atomic: Redis runs scripts one at a
time, so two instances' calls never interleave and the later one sees the earlier one's
increments and runs. The keys expire one bucket after the longest window without a write,
so actors who went quiet cost no memory. Script-based rather than per-field expiry
(``HEXPIRE``) because that needs Redis 7.4. Keys hold employee ids (not personal data);
sighting keys are set members, never key names.
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
    RUN_GAP,
    RUN_IDLE,
    Counts,
    GuardStateUnavailable,
    Observed,
    Run,
    current,
)
from parcelguard.reveal.guard.counters_store import (
    check_actor,
    check_increments,
    check_now,
    check_pairs,
    check_serials,
    check_windows,
)

DEFAULT_PREFIX = "parcelguard:guard:"
SEEN_TTL = 90 * 86_400
"""A first sighting is remembered for 90 days after the actor's last sighting of anything."""
DEFAULT_TIMEOUT = 0.5
"""Seconds to connect or to wait for an answer: a lost Redis must fail a reveal fast, not hang."""

# KEYS: per actor, its counts hash, buckets sorted set and totals hash. ARGV: now, bucket, ttl,
# run idle, run gap, number of windows, the windows (shortest first), then per actor: how many
# (kind, increment) pairs, the pairs, how many serials, the serials. Everything is read and
# checked before anything is written, so a foreign key or field fails the whole call with
# nothing applied. Answer per actor: {kind, total per window, ...}, {last, length, at} or {}.
_OBSERVE_LUA = """
local now = tonumber(ARGV[1])
local bucket = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local idle = tonumber(ARGV[4])
local gap = tonumber(ARGV[5])
local nw = tonumber(ARGV[6])
local win, cut = {}, {}
for j = 1, nw do
  win[j] = ARGV[6 + j]
  cut[j] = now - tonumber(win[j])
end
local oldest = cut[nw]
local pos = 7 + nw
local plans, answer = {}, {}

local function bad(key) return redis.error_reply('not a guard counts hash: ' .. key) end

-- per kind, the sum of the fields (sign +1 or -1) of buckets in (lo, hi]
local function moved(hkey, zkey, lo, hi, into, sign)
  -- buckets start on whole minutes: none can lie between two cut-offs in the same minute
  if hi ~= '+inf' and math.floor(hi / 60) == math.floor(lo / 60) then return true end
  local fields = redis.call('ZRANGEBYSCORE', zkey, '(' .. lo, hi)
  if #fields == 0 then return true end
  local values = redis.call('HMGET', hkey, unpack(fields))
  for f = 1, #fields do
    local sep = string.find(fields[f], ':', 1, true)
    local n = tonumber(values[f])
    if not sep or not n then return false end
    local kind = string.sub(fields[f], sep + 1)
    into[kind] = (into[kind] or 0) + sign * n
  end
  return true
end

for i = 1, #KEYS, 3 do
  local hkey, zkey, tkey = KEYS[i], KEYS[i + 1], KEYS[i + 2]
  redis.call('HLEN', hkey) -- a key of another type fails here, before anything is written
  local flat = redis.call('HGETALL', tkey)
  local totals, front, run = {}, {}, nil
  for j = 1, nw do totals[j] = {} end
  local index = {}
  for j = 1, nw do index[win[j]] = j end
  local obsolete = {}
  for f = 1, #flat, 2 do
    local field, value = flat[f], flat[f + 1]
    local tag = string.sub(field, 1, 2)
    local n = tonumber(value)
    if field == 'run' then
      local a, b, c = string.match(value, '^(%d+):(%d+):(%d+)$')
      if not a then return bad(tkey) end
      run = {tonumber(a), tonumber(b), tonumber(c)}
    elseif tag == 'f:' then
      if not n then return bad(tkey) end
      local j = index[string.sub(field, 3)]
      if j then front[j] = n else obsolete[#obsolete + 1] = field end
    elseif tag == 't:' then
      local sep = string.find(field, ':', 3, true)
      if not sep or not n then return bad(tkey) end
      local j = index[string.sub(field, 3, sep - 1)]
      if j then totals[j][string.sub(field, sep + 1)] = n else obsolete[#obsolete + 1] = field end
    else
      return bad(tkey)
    end
  end
  for j = 1, nw do
    local ok = true
    if front[j] == nil then
      totals[j] = {}
      ok = moved(hkey, zkey, cut[j], '+inf', totals[j], 1)
    elseif cut[j] > front[j] then
      ok = moved(hkey, zkey, front[j], cut[j], totals[j], -1)
    elseif cut[j] < front[j] then
      ok = moved(hkey, zkey, cut[j], front[j], totals[j], 1)
    end
    if not ok then return bad(hkey) end
  end
  local stale = {}
  if front[nw] == nil or math.floor(oldest / 60) ~= math.floor(front[nw] / 60) then
    stale = redis.call('ZRANGEBYSCORE', zkey, '-inf', oldest)
  end
  -- the answer: before this call's increments
  local out, kinds = {}, {}
  for kind, _ in pairs(totals[nw]) do kinds[#kinds + 1] = kind end
  for j = 1, nw - 1 do
    for kind, _ in pairs(totals[j]) do
      if totals[nw][kind] == nil then totals[nw][kind] = 0; kinds[#kinds + 1] = kind end
    end
  end
  table.sort(kinds)
  for _, kind in ipairs(kinds) do
    local any = false
    for j = 1, nw do if (totals[j][kind] or 0) ~= 0 then any = true end end
    if any then
      out[#out + 1] = kind
      for j = 1, nw do out[#out + 1] = totals[j][kind] or 0 end
    end
  end
  local before = {}
  if run and now - run[3] <= idle then before = run else run = nil end
  answer[#answer + 1] = {out, before}
  -- this call's increments and serials
  local m = tonumber(ARGV[pos])
  pos = pos + 1
  local adds = {}
  for _ = 1, m do
    local kind, n = ARGV[pos], tonumber(ARGV[pos + 1])
    pos = pos + 2
    adds[#adds + 1] = {kind, n}
    for j = 1, nw do
      if bucket > cut[j] then totals[j][kind] = (totals[j][kind] or 0) + n end
    end
  end
  local s = tonumber(ARGV[pos])
  pos = pos + 1
  for _ = 1, s do
    local serial = tonumber(ARGV[pos])
    pos = pos + 1
    if run == nil or now - run[3] > idle then run = {serial, 1, now}
    elseif serial == run[1] then run = {run[1], run[2], now}
    elseif serial > run[1] and serial <= run[1] + gap then run = {serial, run[2] + 1, now}
    else run = {serial, 1, now} end
  end
  plans[#plans + 1] = {hkey, zkey, tkey, totals, stale, adds, run, s, #flat > 0, obsolete}
end

for _, p in ipairs(plans) do
  local hkey, zkey, tkey, totals, stale = p[1], p[2], p[3], p[4], p[5]
  local adds, run, s, existed, obsolete = p[6], p[7], p[8], p[9], p[10]
  if existed or #adds > 0 or s > 0 then
    for k = 1, #stale, 1000 do
      local last = math.min(k + 999, #stale)
      redis.call('HDEL', hkey, unpack(stale, k, last))
    end
    if #stale > 0 then redis.call('ZREMRANGEBYSCORE', zkey, '-inf', oldest) end
    for k = 1, #obsolete, 1000 do
      redis.call('HDEL', tkey, unpack(obsolete, k, math.min(k + 999, #obsolete)))
    end
    local set, gone = {}, {}
    for j = 1, nw do
      set[#set + 1] = 'f:' .. win[j]
      set[#set + 1] = string.format('%.0f', cut[j])
      for kind, n in pairs(totals[j]) do
        if (totals[nw][kind] or 0) == 0 and n == 0 then
          gone[#gone + 1] = 't:' .. win[j] .. ':' .. kind
        else
          set[#set + 1] = 't:' .. win[j] .. ':' .. kind
          set[#set + 1] = string.format('%.0f', n)
        end
      end
    end
    if run then
      set[#set + 1] = 'run'
      set[#set + 1] = string.format('%.0f:%.0f:%.0f', run[1], run[2], run[3])
    end
    redis.call('HSET', tkey, unpack(set))
    if #gone > 0 then redis.call('HDEL', tkey, unpack(gone)) end
    local b = string.format('%.0f', bucket)
    for _, a in ipairs(adds) do
      local field = b .. ':' .. a[1]
      redis.call('HINCRBY', hkey, field, a[2])
      redis.call('ZADD', zkey, bucket, field)
    end
    redis.call('EXPIRE', tkey, ttl)
    redis.call('EXPIRE', hkey, ttl)
    redis.call('EXPIRE', zkey, ttl)
  end
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
        return self.record(increments, {}, now).counts

    def record(
        self,
        increments: Mapping[str, Mapping[str, int]],
        serials: Mapping[str, Sequence[int]],
        now: int,
    ) -> Observed:
        plan = check_increments(increments)
        asked = check_serials(serials)
        check_now(now)
        for actor in asked:
            plan.setdefault(actor, {})
        if not plan:
            return Observed({}, {})
        actors = sorted(plan)
        bucket = now // BUCKET_SECONDS * BUCKET_SECONDS
        args: list[int | str] = [now, bucket, self._windows[-1] + BUCKET_SECONDS, RUN_IDLE]
        args += [RUN_GAP, len(self._windows), *self._windows]
        keys: list[str] = []
        for actor in actors:
            keys += [self._counts_key(actor), self._buckets_key(actor), self._totals_key(actor)]
            args.append(len(plan[actor]))
            for kind, n in sorted(plan[actor].items()):
                args.extend((kind, n))
            mine = asked.get(actor, [])
            args.append(len(mine))
            args.extend(mine)
        with self._unavailable_as_guard_error("count"):
            answer = self._observe(keys=keys, args=args)
            if not isinstance(answer, list) or len(answer) != len(actors):
                raise ValueError("not one answer per actor")
            counts: dict[str, Counts] = {}
            runs: dict[str, Run | None] = {}
            for actor, (flat, run) in zip(actors, answer, strict=True):
                counts[actor] = _parse_counts(flat, len(self._windows))
                runs[actor] = _parse_run(run, now)
        return Observed(counts, runs)

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
            self._client.delete(
                self._counts_key(actor), self._buckets_key(actor), self._totals_key(actor)
            )

    def _counts_key(self, actor: str) -> str:
        return f"{self._prefix}counts:{actor}"

    def _buckets_key(self, actor: str) -> str:
        return f"{self._prefix}buckets:{actor}"

    def _totals_key(self, actor: str) -> str:
        return f"{self._prefix}totals:{actor}"

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


def _parse_run(flat: Any, now: int) -> Run | None:
    """The script's ``[last, length, at]`` (or ``[]``) as a :class:`Run` that still counts."""
    if not isinstance(flat, list) or len(flat) not in (0, 3):
        raise ValueError("not a run")
    if not flat:
        return None
    return current(Run(_as_int(flat[0]), _as_int(flat[1]), _as_int(flat[2])), now)


def _as_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not an integer")
    return value


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
