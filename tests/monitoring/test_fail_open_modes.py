"""Cluster and Sentinel modes fail open like a single Redis: with every node or sentinel
refusing connections, or accepting them and never answering (a hung host), predictions are
served at full speed, the store is tried once per retry period, the monitors answer 503."""

from __future__ import annotations

import socket
import time

import pytest
import redis
from redis.exceptions import RedisClusterException

from kosprice.app import create_app
from kosprice.monitoring import build_store
from kosprice.settings import Settings
from tests.factories import LISTING
from tests.scrape import metric_total
from tests.servers import free_port

TIMEOUT = 0.1
PREDICTIONS = 10
RETRY_AFTER = 60.0  # nothing waits for it: the whole test runs inside one retry period


@pytest.fixture
def silent_port():
    """A port that accepts connections (the kernel's backlog) but never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


@pytest.mark.parametrize("mode", ["cluster", "sentinel"])
@pytest.mark.parametrize("peer", ["refusing", "silent"])
def test_an_unreachable_cluster_or_sentinel_never_slows_or_fails_a_prediction(
        mode, peer, models_dir, tmp_path, request):
    port = request.getfixturevalue("silent_port") if peer == "silent" else free_port()
    settings = Settings.from_env({}, models_dir=models_dir, log_dir=tmp_path / "logs",
                                 redis_mode=mode, redis_nodes=(("127.0.0.1", port),),
                                 redis_master="kosprice" if mode == "sentinel" else None,
                                 store_timeout=TIMEOUT, store_retry_after=RETRY_AFTER)
    started = time.perf_counter()
    with pytest.raises((redis.RedisError, RedisClusterException)):  # bounded by the timeout
        build_store(settings).ping()
    assert time.perf_counter() - started < 1.0

    client = create_app(settings).test_client()  # each worker pings the store as it starts
    durations = []
    for _ in range(PREDICTIONS):
        started = time.perf_counter()
        response = client.post("/predict/yogyakarta", json=LISTING)
        durations.append(time.perf_counter() - started)
        assert response.status_code == 200, response.json
    assert max(durations) < 1.0, durations  # generous on a noisy machine, far from a hang
    metrics = client.get("/metrics").text
    # The start-up ping failed once; no prediction touched the store afterwards.
    assert metric_total(metrics, "kosprice_monitor_store_errors_total", operation="record") == 1
    assert metric_total(metrics, "kosprice_monitor_store_errors_total",
                        operation="record_skipped") == PREDICTIONS
    assert metric_total(metrics, "kosprice_monitor_store_up") == 0
    response = client.get("/prediction-monitor/yogyakarta")  # reads have their own breaker
    assert response.status_code == 503
    assert response.json["error"]["code"] == "monitor_store_unavailable"
    assert metric_total(client.get("/metrics").text, "kosprice_monitor_store_errors_total",
                        operation="read") == 1
