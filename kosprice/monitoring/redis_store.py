"""Redis implementation of the monitoring store: one server, a Redis Cluster, or Sentinel.

Keys: `{prefix}:{{region}}:counters` (hash), `:window`, `:latency`, `:anomalies` (lists),
`:drift` (hash: slot counts by model version), `:drift_window` (list: the slots of the
last `drift_window` predictions, so the one leaving the window can be taken off the counts)
and `:anomaly_clients` (hash: how many entries of the anomaly list each client holds).
The `{region}` braces are a Redis Cluster hash tag: one region's keys share a slot, so the
recording script may touch them all. Recording is one EVALSHA (one round trip, atomic) in
every mode: redis-py's `RedisCluster` sends it to the slot's primary, Sentinel's client to
the primary the sentinels name.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection
from dataclasses import dataclass, field

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry
from redis.sentinel import Sentinel

from kosprice.monitoring.store import RINGS, DriftWindow, MonitorStore, Observation, RegionState

_DRIFT = """
-- delta[version] = {n = predictions, [bin index] = {[slot] = count}}: keyed by the slot
-- tokens themselves, so no field name is built per slot (a batch has thousands of slots);
-- field names are built once per count that moves.
local function count_slots(delta, entry, by)
  local version, slots = string.match(entry, '^(.*)|([^|]*)$')
  local counts = delta[version]
  if counts == nil then counts = {n = 0}; delta[version] = counts end
  counts.n = counts.n + by
  local i = 0
  for slot in string.gmatch(slots, '[^,]+') do
    if slot ~= '-' then
      local bin = counts[i]
      if bin == nil then bin = {}; counts[i] = bin end
      bin[slot] = (bin[slot] or 0) + by
    end
    i = i + 1
  end
end
local function move_count(drift, field, by)
  if by ~= 0 and redis.call('HINCRBY', drift, field, by) <= 0 then
    redis.call('HDEL', drift, field)
  end
end
-- Push entries ('version|slots') into the drift window, take the oldest beyond its size
-- off the counts, and move each count by its net change only: the predictions leaving the
-- window share most slots with those entering, and those counts do not move. Equal entries
-- are tallied first (Lua interns strings: one table slot each), so each distinct entry is
-- parsed once, and one that enters as often as it leaves not at all.
local function record_drift(drift, drift_window, size, entries)
  local delta, moved, length = {}, {}, 0
  for i = 1, #entries, 500 do
    length = redis.call('LPUSH', drift_window, unpack(entries, i, math.min(i + 499, #entries)))
  end
  for _, entry in ipairs(entries) do moved[entry] = (moved[entry] or 0) + 1 end
  if length > size then
    for _, gone in ipairs(redis.call('RPOP', drift_window, length - size)) do
      moved[gone] = (moved[gone] or 0) - 1
    end
  end
  for entry, by in pairs(moved) do
    if by ~= 0 then count_slots(delta, entry, by) end
  end
  for version, counts in pairs(delta) do
    move_count(drift, version .. '|n', counts.n)
    for i, bin in pairs(counts) do
      if i ~= 'n' then
        for slot, by in pairs(bin) do move_count(drift, version .. '|' .. i .. '|' .. slot, by) end
      end
    end
  end
end
"""

_LIST_ANOMALIES = """
-- List one client's anomaly entries while it holds fewer than `limit` of the list; count the
-- rest as unlisted. Entries pushed out of the list give their client's share back.
local function list_anomalies(counters, anomalies, clients, history, limit, client, records)
  local held = tonumber(redis.call('HGET', clients, client) or '0')
  local admitted = math.min(math.max(limit - held, 0), #records)
  if admitted < #records then
    redis.call('HINCRBY', counters, 'unlisted', #records - admitted)
  end
  if admitted == 0 then return end
  redis.call('HINCRBY', clients, client, admitted)
  local length = 0
  for i = 1, admitted, 500 do
    length = redis.call('LPUSH', anomalies, unpack(records, i, math.min(i + 499, admitted)))
  end
  if length > history then
    for _, gone in ipairs(redis.call('RPOP', anomalies, length - history)) do
      local ok, entry = pcall(cjson.decode, gone)
      local owner = ok and type(entry) == 'table' and entry['client']
      if type(owner) == 'string' and redis.call('HINCRBY', clients, owner, -1) <= 0 then
        redis.call('HDEL', clients, owner)
      end
    end
  end
end
"""

_RECORD = _DRIFT + _LIST_ANOMALIES + """
local counters, window, latency, anomalies = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local size, history = tonumber(ARGV[1]), tonumber(ARGV[2])
local stamp, status, version = ARGV[3], ARGV[4], ARGV[6]
redis.call('HINCRBY', counters, 'requests', 1)
if tonumber(status) >= 400 then redis.call('HINCRBY', counters, 'errors', 1) end
if tonumber(status) >= 500 then redis.call('HINCRBY', counters, 'server_errors', 1)
elseif tonumber(status) >= 400 then redis.call('HINCRBY', counters, 'client_errors', 1) end
redis.call('LPUSH', latency, ARGV[5] .. '|' .. status)
redis.call('LTRIM', latency, 0, size - 1)
local prices = {}
for price in string.gmatch(ARGV[7], '%S+') do prices[#prices + 1] = price .. '|' .. version end
if #prices == 0 then return 1 end
redis.call('HINCRBY', counters, 'predictions', #prices)
redis.call('HINCRBY', counters, 'v:' .. version, #prices)
if ARGV[10] ~= '' then
  local entries = {}
  for entry in string.gmatch(ARGV[10], '%S+') do entries[#entries + 1] = entry end
  record_drift(KEYS[5], KEYS[6], tonumber(ARGV[9]), entries)
end
redis.call('HSET', counters, 'last', stamp)
for i = 1, #prices, 500 do
  redis.call('LPUSH', window, unpack(prices, i, math.min(i + 499, #prices)))
end
redis.call('LTRIM', window, 0, size - 1)
local found = cjson.decode(ARGV[8])
if #found > 0 then
  local records, kinds = {}, {}
  for _, entry in ipairs(found) do
    records[#records + 1] = entry[1]
    for _, kind in ipairs(entry[2]) do kinds[kind] = (kinds[kind] or 0) + 1 end
  end
  redis.call('HINCRBY', counters, 'anomalous', #records)
  for kind, count in pairs(kinds) do redis.call('HINCRBY', counters, 'a:' .. kind, count) end
  list_anomalies(counters, anomalies, KEYS[7], history, tonumber(ARGV[11]), ARGV[12], records)
end
return 1
"""


@dataclass(frozen=True)
class RedisEndpoint:
    """Where the store lives: a URL (single), a cluster's startup nodes, or the sentinels
    that name the current primary of `master`."""

    mode: str = "single"
    url: str | None = None
    nodes: tuple[tuple[str, int], ...] = ()
    master: str | None = None
    password: str | None = field(default=None, repr=False)

    def connect(self, timeout: float) -> redis.Redis | RedisCluster:
        """A client whose every call gives up after `timeout` seconds (fail open)."""
        sockets = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
        if self.mode == "cluster":
            # No retries: a node that is down costs one timeout, not a topology refresh
            # after each of several attempts.
            return RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in self.nodes],
                                password=self.password, retry=Retry(NoBackoff(), 0),
                                **sockets)
        # One immediate retry on a broken connection: after a failover or a restart the
        # pooled socket is dead, and a fresh one (for Sentinel, to the primary the sentinels
        # name now) usually answers. A timeout is never retried.
        retry = Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,))
        options = {**sockets, "retry": retry, "health_check_interval": 0,
                   "password": self.password}
        if self.mode == "sentinel":
            # Asking the sentinels is bounded too: each is tried once, without redis-py's
            # default retries and backoff (seconds when every sentinel refuses).
            sentinel = Sentinel(self.nodes, sentinel_kwargs={
                **sockets, "retry": Retry(NoBackoff(), 0), "health_check_interval": 0})
            return sentinel.master_for(self.master, **options)
        return redis.Redis.from_url(self.url, **options)


class RedisStore(MonitorStore):
    kind = "redis"

    def __init__(self, endpoint: RedisEndpoint | str, prefix: str, window_size: int,
                 anomaly_history: int, timeout: float, **limits: int) -> None:
        """`limits`: the store's optional sizes (`drift_window`, `recent_per_client`)."""
        super().__init__(window_size, anomaly_history, **limits)
        if isinstance(endpoint, str):
            endpoint = RedisEndpoint(url=endpoint)
        self.endpoint, self.prefix, self.timeout = endpoint, prefix, timeout
        self._client: redis.Redis | RedisCluster | None = None
        self._pid: int | None = None

    @property
    def client(self) -> redis.Redis | RedisCluster:
        """The connection pool of this process, made lazily after Gunicorn's fork."""
        if self._client is None or self._pid != os.getpid():
            self._client = self.endpoint.connect(self.timeout)
            self._script = self._client.register_script(_RECORD)
            self._pid = os.getpid()
        return self._client

    def keys(self, region: str) -> list[str]:
        base = f"{self.prefix}:{{{region}}}"
        return [f"{base}:counters", f"{base}:window", f"{base}:latency", f"{base}:anomalies"]

    def drift_keys(self, region: str) -> list[str]:
        """The drift counts and window, in the region's hash slot like the other keys."""
        base = f"{self.prefix}:{{{region}}}"
        return [f"{base}:drift", f"{base}:drift_window"]

    def script_keys(self, region: str) -> list[str]:
        """Every key a recording touches, the anomaly list's clients last."""
        return [*self.keys(region), *self.drift_keys(region),
                f"{self.prefix}:{{{region}}}:anomaly_clients"]

    def record(self, observation: Observation) -> None:
        o = observation
        client = self.client
        # Few, large arguments: packing thousands of small ones costs more than the script.
        found = [[o.anomaly_record(i), list(o.anomalies[i])] for i in o.anomalous()]
        args = [self.window_size, self.anomaly_history, repr(o.timestamp), o.status,
                repr(round(o.latency_ms, 3)), o.model_version or "",
                " ".join(map(repr, o.prices)), json.dumps(found),
                self.drift_window, " ".join(o.drift_entries()), self.recent_per_client,
                o.client]
        self._script(keys=self.script_keys(o.region), args=args, client=client)

    def read(self, region: str, rings: Collection[str] = RINGS) -> RegionState:
        counters_key, *ring_keys = self.keys(region)
        keys = dict(zip(RINGS, ring_keys, strict=True))
        with self.client.pipeline(transaction=True) as pipe:
            pipe.hgetall(counters_key)
            for ring in rings:
                pipe.lrange(keys[ring], 0, -1)
            raw_counters, *raw_rings = pipe.execute()
        raw = {ring: [item.decode() for item in items]
               for ring, items in zip(rings, raw_rings, strict=True)}
        return RegionState.parse(  # lists hold newest first: LPUSH
            {k.decode(): v.decode() for k, v in raw_counters.items()},
            raw.get("window", [])[::-1], raw.get("latency", [])[::-1], raw.get("anomalies", []))

    def read_drift(self, region: str) -> DriftWindow:
        counts = self.client.hgetall(self.drift_keys(region)[0])
        return DriftWindow.parse({k.decode(): v.decode() for k, v in counts.items()})

    def ping(self) -> None:
        self.client.ping()
