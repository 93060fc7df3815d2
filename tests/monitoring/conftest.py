"""Monitoring fixtures: real Redis (the machine's or a throwaway one, a local Redis Cluster,
a local Sentinel setup) and the embedded store."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import uuid

import pytest
import redis
from pytest_redis import factories
from redis.exceptions import RedisClusterException

from kosprice.monitoring.redis_store import RedisEndpoint, RedisStore
from kosprice.monitoring.sqlite_store import SqliteStore
from tests.conftest import IN_CI
from tests.logs import log_files  # noqa: F401  (a shared fixture)

throwaway_redis = factories.redis_proc(port=None, executable=shutil.which("redis-server"))


def _reachable(url: str) -> bool:
    try:
        return redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        return False


@pytest.fixture(scope="session")
def redis_url(request) -> str:
    """A real Redis server: TEST_REDIS_URL or 127.0.0.1:6379, else one started for the run.

    With CI=true a missing Redis fails the run instead of skipping.
    """
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    if _reachable(url):
        return url
    if shutil.which("redis-server"):
        server = request.getfixturevalue("throwaway_redis")
        return f"redis://{server.host}:{server.port}/0"
    message = f"no Redis at {url} and no redis-server binary to start one"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def store_prefix(redis_url):
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"kosprice-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)


def redis_endpoint(kind: str, request) -> RedisEndpoint:
    """How to reach the Redis of a store kind: "redis", "redis-cluster" or "redis-sentinel"."""
    if kind == "redis-cluster":
        return RedisEndpoint("cluster", nodes=tuple(
            request.getfixturevalue("redis_cluster").addresses))
    if kind == "redis-sentinel":
        sentinel = request.getfixturevalue("redis_sentinel")
        return RedisEndpoint("sentinel", nodes=tuple(sentinel.sentinel_addresses),
                             master=sentinel.MASTER)
    return RedisEndpoint(url=request.getfixturevalue("redis_url"))


def make_store(kind: str, request, tmp_path, window_size: int = 100, anomaly_history: int = 10,
               recent_per_client: int = 5):
    if kind.startswith("redis"):
        # The local cluster and sentinel setups live only for this session: no cleanup.
        prefix = (request.getfixturevalue("store_prefix") if kind == "redis"
                  else f"kosprice-test-{uuid.uuid4().hex[:12]}")
        return RedisStore(redis_endpoint(kind, request), prefix, window_size,
                          anomaly_history, timeout=1.0, recent_per_client=recent_per_client)
    return SqliteStore(tmp_path / "monitor.sqlite3", window_size, anomaly_history,
                       recent_per_client=recent_per_client)


def free_port() -> int:
    """A local TCP port nothing listens on (the OS just handed it out and it was closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_down_store(kind: str, tmp_path):
    """A store of this kind that cannot answer: no server at its address, or a SQLite file
    that is no longer a database."""
    dead = ("127.0.0.1", free_port())
    endpoint = {"redis": RedisEndpoint(url=f"redis://{dead[0]}:{dead[1]}/0"),
                "redis-cluster": RedisEndpoint("cluster", nodes=(dead,)),
                "redis-sentinel": RedisEndpoint("sentinel", nodes=(dead,), master="kosprice")}
    if kind in endpoint:
        return RedisStore(endpoint[kind], "kosprice-test-down", 10, 5, timeout=1.0)
    store = SqliteStore(tmp_path / "monitor.sqlite3", 10, 5)
    tmp_path.mkdir(parents=True, exist_ok=True)  # the store creates it only when it migrates
    for leftover in tmp_path.glob("monitor.sqlite3*"):
        leftover.unlink()
    (tmp_path / "monitor.sqlite3").write_bytes(b"not a database " * 512)
    return store


STORE_ERRORS = (redis.RedisError, RedisClusterException, sqlite3.Error)
"""What a store that cannot answer raises (the monitor degrades on any exception)."""

REDIS_KINDS = ("redis", "redis-cluster", "redis-sentinel")


@pytest.fixture(params=[*(pytest.param(kind, marks=pytest.mark.redis) for kind in REDIS_KINDS),
                        "sqlite"])
def store_kind(request) -> str:
    return request.param
