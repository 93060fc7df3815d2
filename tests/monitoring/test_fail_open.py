"""Monitoring fails open: a real redis-server is stopped, frozen and restarted under the app."""

from __future__ import annotations

import signal
import time

import pytest

from kosprice.app import create_app
from kosprice.settings import Settings
from tests.factories import LISTING
from tests.monitoring.test_consistency import metric_total
from tests.servers import RedisServer, wait_until

RETRY_AFTER = 0.5
TIMEOUT = 0.1


@pytest.fixture
def redis_server(tmp_path):
    try:
        server = RedisServer(tmp_path).start()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.fixture
def client(models_dir, tmp_path, redis_server):
    settings = Settings.from_env({}, models_dir=models_dir, log_dir=tmp_path / "logs",
                                 redis_url=redis_server.url, store_timeout=TIMEOUT,
                                 store_retry_after=RETRY_AFTER)
    return create_app(settings).test_client()


def predict(client, n: int) -> list[float]:
    """Send n predictions; assert each succeeds; return their durations in seconds."""
    durations = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.post("/predict/yogyakarta", json=LISTING)
        durations.append(time.perf_counter() - started)
        assert response.status_code == 200, response.json
    return durations


def count(client) -> int | None:
    response = client.get("/prediction-monitor/yogyakarta")
    return response.json["count"] if response.status_code == 200 else None


def assert_unavailable(client) -> None:
    for path in ("/prediction-monitor/yogyakarta", "/anomaly-monitor/yogyakarta",
                 "/latency-monitor"):
        response = client.get(path)
        assert response.status_code == 503
        assert response.json["error"]["code"] == "monitor_store_unavailable"
        assert set(response.json["error"]) == {"code", "message", "details", "request_id"}


def test_predictions_survive_a_stopped_redis_and_recording_resumes(client, redis_server):
    healthy = predict(client, 5)
    assert count(client) == 5

    redis_server.stop()
    during_outage = predict(client, 20)
    assert max(during_outage) < max(healthy) + 2 * TIMEOUT + 0.2
    assert_unavailable(client)
    metrics = client.get("/metrics").text
    assert metric_total(metrics, "kosprice_monitor_store_errors_total", operation="record") >= 1
    assert metric_total(metrics, "kosprice_monitor_store_errors_total",
                        operation="record_skipped") >= 1
    assert metric_total(metrics, "kosprice_monitor_store_up") == 0

    redis_server.start()  # same port, empty data set: nothing persisted
    wait_until(lambda: count(client) is not None, timeout=10 * RETRY_AFTER,
               what="the monitor to resume")
    predict(client, 4)
    assert count(client) == 4
    assert metric_total(client.get("/metrics").text, "kosprice_monitor_store_up") == 1


def test_a_hanging_redis_costs_one_timeout_then_nothing(client, redis_server):
    predict(client, 3)
    redis_server.process.send_signal(signal.SIGSTOP)
    try:
        durations = predict(client, 20)
        assert_unavailable(client)
    finally:
        redis_server.process.send_signal(signal.SIGCONT)
    assert durations[0] < TIMEOUT + 0.5
    assert sorted(durations)[len(durations) // 2] < TIMEOUT / 2, "later calls must skip the store"
    wait_until(lambda: count(client) is not None, timeout=10 * RETRY_AFTER,
               what="the monitor to resume")
    predict(client, 2)
    # Redis may still run the command that timed out once it is thawed: 5 or 6.
    assert count(client) in (5, 6)
