"""Monitoring fails open: a real redis-server is stopped, frozen and restarted under the app."""

from __future__ import annotations

import signal
import time

import pytest

from kosprice.app import create_app
from kosprice.settings import Settings
from tests.factories import LISTING
from tests.scrape import metric_total
from tests.servers import RedisServer, require_binary, wait_until

RETRY_AFTER = 3.0  # long enough that the 20 requests of an outage all fall inside it
TIMEOUT = 0.1


@pytest.fixture
def redis_server(tmp_path):
    require_binary("redis-server", "redis-server")
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def client(models_dir, tmp_path, redis_server, log_files):
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
                 "/drift-monitor/yogyakarta", "/latency-monitor"):
        response = client.get(path)
        assert response.status_code == 503
        assert response.json["error"]["code"] == "monitor_store_unavailable"
        assert set(response.json["error"]) == {"code", "message", "details", "request_id"}
        # Says what is unavailable (not "internal error") and when to come back.
        assert "monitoring store is unavailable" in response.json["error"]["message"]
        assert int(response.headers["Retry-After"]) >= 1


def store_errors(client, operation: str) -> float:
    return metric_total(client.get("/metrics").text, "kosprice_monitor_store_errors_total",
                        operation=operation)


def test_predictions_survive_a_stopped_redis_and_recording_resumes(client, redis_server,
                                                                  log_files):
    assert metric_total(client.get("/metrics").text, "kosprice_monitor_store_up") == 1
    predict(client, 5)
    assert count(client) == 5

    redis_server.stop()
    during_outage = predict(client, 20)
    assert max(during_outage) < 1.0  # generous: a noisy machine, yet far from a hang
    # One call failed and opened the breaker; the other 19 did not touch the store.
    assert store_errors(client, "record") == 1
    assert store_errors(client, "record_skipped") == 19
    assert_unavailable(client)
    assert metric_total(client.get("/metrics").text, "kosprice_monitor_store_up") == 0
    warnings = log_files.events("monitor store unavailable; monitoring paused")
    assert len(warnings) == 1, "the warning is rate-limited to one per retry period"

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
    assert durations[0] < TIMEOUT + 0.9
    assert store_errors(client, "record") == 1  # the one call that waited for the timeout
    assert store_errors(client, "record_skipped") == 19
    wait_until(lambda: count(client) is not None, timeout=10 * RETRY_AFTER,
               what="the monitor to resume")
    predict(client, 2)
    # Redis may still run the command that timed out once it is thawed: 5 or 6.
    assert count(client) in (5, 6)
