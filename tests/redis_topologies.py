"""Real Redis topologies on loopback for tests: a Redis Cluster and a Sentinel setup.

Both are started from the Debian `redis-server` / `redis-cli` binaries with short timeouts,
so a session can afford them: a 3-master cluster forms in about a second, and Sentinel
fails over within a few seconds of its primary stopping.
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
import redis

from tests.servers import free_port, require_binary, terminate, wait_until

NODE_TIMEOUT_MS = 1000
"""Cluster nodes and sentinels call a peer down after this long without an answer."""


def _answers(port: int) -> bool:
    try:
        return redis.Redis(port=port, socket_timeout=0.5, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        return False


class RedisProcess:
    """One redis-server (or sentinel) process on 127.0.0.1, configured by a file of its own."""

    def __init__(self, binary: str, directory: Path, config: str, sentinel: bool = False,
                 port: int | None = None):
        self.binary, self.port = binary, port or free_port()
        self.dir = directory / f"redis-{self.port}"
        self.dir.mkdir(parents=True)
        self.config_path = self.dir / "redis.conf"
        self.config_path.write_text(f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\n"
                                    "save \"\"\nappendonly no\n" + config)
        self.sentinel = sentinel
        self.process: subprocess.Popen | None = None

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def start(self) -> RedisProcess:
        command = [self.binary, str(self.config_path)] + (["--sentinel"] if self.sentinel else [])
        self.process = subprocess.Popen(command, stdout=(self.dir / "out.log").open("wb"),
                                        stderr=subprocess.STDOUT)
        wait_until(lambda: _answers(self.port), timeout=15, what=f"redis on {self.port}")
        return self

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2, decode_responses=True)

    def kill(self) -> None:
        """Stop it the hard way, as a crashed host would."""
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        terminate(self.process, timeout=10)


class LocalCluster:
    """`masters` cluster-enabled redis-servers joined by `redis-cli --cluster create`."""

    def __init__(self, redis_server: str, redis_cli: str, directory: Path, masters: int = 3):
        self.redis_cli = redis_cli
        self.nodes = [RedisProcess(redis_server, directory, (
            "cluster-enabled yes\ncluster-config-file nodes.conf\n"
            f"cluster-node-timeout {NODE_TIMEOUT_MS}\ncluster-port {free_port()}\n"))
            for _ in range(masters)]

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return [node.address for node in self.nodes]

    def start(self) -> LocalCluster:
        for node in self.nodes:
            node.start()
        subprocess.run([self.redis_cli, "--cluster", "create",
                        *(f"{host}:{port}" for host, port in self.addresses),
                        "--cluster-replicas", "0", "--cluster-yes"],
                       check=True, capture_output=True, timeout=60)
        wait_until(self._formed, timeout=30, what="the cluster to cover every slot")
        return self

    def _formed(self) -> bool:
        for node in self.nodes:
            info = node.client().cluster("info")
            if info.get("cluster_state") != "ok" or int(info["cluster_known_nodes"]) != len(
                    self.nodes):
                return False
        return True

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


class LocalSentinel:
    """A primary, one replica and three sentinels (quorum 2) watching `MASTER`."""

    MASTER = "kosprice"

    def __init__(self, redis_server: str, directory: Path, sentinels: int = 3):
        quick_sync = "repl-diskless-sync-delay 0\n"  # not the default 5 s wait for more replicas
        self.primary = RedisProcess(redis_server, directory, quick_sync)
        self.replica = RedisProcess(redis_server, directory, quick_sync
                                    + f"replicaof 127.0.0.1 {self.primary.port}\n")
        # Each sentinel is told its peers and the replica up front (as a restarted sentinel
        # reads them from its rewritten config), instead of discovering them over seconds.
        ports, ids = [free_port() for _ in range(sentinels)], [uuid.uuid4().hex[:20] * 2
                                                                 for _ in range(sentinels)]
        self.sentinels = [RedisProcess(redis_server, directory, (
            f"sentinel myid {ids[i]}\n"
            f"sentinel monitor {self.MASTER} 127.0.0.1 {self.primary.port} 2\n"
            f"sentinel down-after-milliseconds {self.MASTER} {NODE_TIMEOUT_MS}\n"
            f"sentinel failover-timeout {self.MASTER} 5000\n"
            f"sentinel parallel-syncs {self.MASTER} 1\n"
            f"sentinel known-replica {self.MASTER} 127.0.0.1 {self.replica.port}\n"
            + "".join(f"sentinel known-sentinel {self.MASTER} 127.0.0.1 {ports[j]} {ids[j]}\n"
                      for j in range(sentinels) if j != i)), sentinel=True, port=ports[i])
            for i in range(sentinels)]

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        return [sentinel.address for sentinel in self.sentinels]

    @property
    def servers(self) -> list[RedisProcess]:
        return [self.primary, self.replica]

    def start(self) -> LocalSentinel:
        for process in (self.primary, self.replica, *self.sentinels):
            process.start()
        wait_until(self.settled, timeout=60, what="sentinels to see the replica and each other")
        return self

    def master_address(self) -> tuple[str, int] | None:
        """The primary the sentinels agree on now (None while they do not)."""
        answers = set()
        for sentinel in self.sentinels:
            try:
                host, port = sentinel.client().sentinel_get_master_addr_by_name(self.MASTER)
            except (redis.RedisError, TypeError):
                return None
            answers.add((host, int(port)))
        return answers.pop() if len(answers) == 1 else None

    def current_primary(self) -> RedisProcess:
        """The server the sentinels agree is primary (waiting while they disagree)."""
        address = wait_until(self.master_address, timeout=30, interval=0.05,
                             what="the sentinels to agree on a primary")
        return next(s for s in self.servers if s.address == address)

    def settled(self) -> bool:
        """Every sentinel agrees on a primary that has a replica in sync and knows the other
        sentinels: only then can it fail over."""
        address = self.master_address()
        if address is None:
            return False
        for sentinel in self.sentinels:
            state = sentinel.client().sentinel_master(self.MASTER)
            if (state["num-other-sentinels"] != len(self.sentinels) - 1
                    or state["num-slaves"] < 1 or state["flags"] != "master"):
                return False
            replicas = sentinel.client().sentinel_slaves(self.MASTER)
            if not any(r["flags"] == "slave" and r.get("master-link-status") == "ok"
                       for r in replicas):
                return False
        return True

    def stop(self) -> None:
        for process in (*self.sentinels, self.primary, self.replica):
            process.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory) -> LocalCluster:
    """A real 3-master Redis Cluster on loopback, shared by the session's tests."""
    server = require_binary("redis-server", "redis-server")
    cli = require_binary("redis-cli", "redis-tools")
    cluster = LocalCluster(server, cli, tmp_path_factory.mktemp("redis-cluster"))
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def redis_sentinel(tmp_path_factory) -> LocalSentinel:
    """A real primary, replica and three sentinels on loopback, shared by the session's
    tests (a test that fails the primary over leaves the setup settled again)."""
    server = require_binary("redis-server", "redis-server")
    setup = LocalSentinel(server, tmp_path_factory.mktemp("redis-sentinel"))
    try:
        yield setup.start()
    finally:
        setup.stop()
