"""One contract, every real store: a Redis server, a local Redis Cluster (3 masters), a local
Sentinel setup (primary, replica, 3 sentinels) and the embedded SQLite file."""

from __future__ import annotations

import multiprocessing
import time

import pytest
import redis
from prometheus_client import CollectorRegistry

from kosprice.monitoring.metrics import Metrics
from kosprice.monitoring.monitor import Monitor
from kosprice.monitoring.store import Observation, RegionState
from tests.monitoring.conftest import REDIS_KINDS, STORE_ERRORS, make_down_store, make_store


def observation(i: int = 0, region: str = "yogyakarta", status: int = 200,
                price: float | None = 1_000_000.0, version: str = "v1.0.0",
                anomalies: tuple[str, ...] = (), client: str = "unknown") -> Observation:
    return Observation.single(region=region, request_id=f"req-{i}",
                              timestamp=1_700_000_000.0 + i, status=status, latency_ms=1.0 + i,
                              model_version=version if price is not None else None,
                              price=price, anomalies=anomalies, client=client)


@pytest.fixture
def store(store_kind, request, tmp_path):
    return make_store(store_kind, request, tmp_path, window_size=5, anomaly_history=3)


def test_an_unused_region_reads_as_empty(store):
    assert store.read("jakarta_utara") == RegionState()


def test_records_predictions_in_order_with_counters(store):
    for i in range(3):
        store.record(observation(i, price=1_000_000.0 + i, version=f"v1.{i % 2}.0"))
    state = store.read("yogyakarta")
    assert (state.predictions, state.requests, state.errors) == (3, 3, 0)
    assert state.window == [(1_000_000.0, "v1.0.0"), (1_000_001.0, "v1.1.0"),
                            (1_000_002.0, "v1.0.0")]
    assert state.by_version == {"v1.0.0": 2, "v1.1.0": 1}
    assert state.latencies == [(1.0, 200), (2.0, 200), (3.0, 200)]
    assert state.last_prediction_at == pytest.approx(1_700_000_002.0)


def test_failed_requests_count_as_errors_not_predictions(store):
    store.record(observation(0))
    store.record(observation(1, status=422, price=None))
    store.record(observation(2, status=503, price=None))
    store.record(observation(3, status=400, price=None))
    state = store.read("yogyakarta")
    assert (state.predictions, state.requests, state.errors) == (1, 4, 3)
    assert (state.client_errors, state.server_errors) == (2, 1)
    assert state.latencies == [(1.0, 200), (2.0, 422), (3.0, 503), (4.0, 400)]
    assert len(state.window) == 1



def test_the_latency_report_separates_client_and_server_errors(store):
    for i, status in enumerate((200, 422, 404, 500, 503, 200, 400)):
        store.record(observation(i, status=status, price=None if status >= 400 else 1e6))
    monitor = Monitor(store, Metrics(CollectorRegistry()), retry_after=5.0)
    region = monitor.latency_report(["yogyakarta"])["regions"]["yogyakarta"]
    assert (region["requests"], region["errors"]) == (7, 5)
    assert (region["client_errors"], region["server_errors"]) == (3, 2)
    assert (region["error_rate"], region["server_error_rate"]) == (round(5 / 7, 6),
                                                                   round(2 / 7, 6))
    # The window holds the last 5 requests: 404, 500, 503, 200, 400.
    window = region["window"]
    assert (window["count"], window["errors"]) == (5, 4)
    assert (window["client_errors"], window["server_errors"]) == (2, 2)

def test_rings_are_bounded_and_counters_are_lifetime(store):
    for i in range(12):
        store.record(observation(i, price=float(i)))
    state = store.read("yogyakarta")
    assert state.predictions == 12
    assert [price for price, _ in state.window] == [7.0, 8.0, 9.0, 10.0, 11.0]
    assert [ms for ms, _ in state.latencies] == [8.0, 9.0, 10.0, 11.0, 12.0]


def test_anomalies_are_counted_by_kind_and_the_latest_kept(store):
    for i in range(5):
        store.record(observation(i, price=float(i), anomalies=("iqr_outlier",)))
    store.record(observation(5, price=-1.0, anomalies=("below_floor", "iqr_outlier")))
    store.record(observation(6))
    state = store.read("yogyakarta")
    assert state.anomalous == 6
    assert state.anomalies_by_kind == {"iqr_outlier": 6, "below_floor": 1}
    assert [a["request_id"] for a in state.recent_anomalies] == ["req-5", "req-4", "req-3"]
    assert state.recent_anomalies[0]["reasons"] == ["below_floor", "iqr_outlier"]
    assert state.recent_anomalies[0]["value"] == -1.0


def test_one_client_cannot_flood_the_recent_anomalies(store_kind, request, tmp_path):
    store = make_store(store_kind, request, tmp_path, anomaly_history=50, recent_per_client=5)
    store.record(observation(0, anomalies=("below_floor",), client="early"))
    for i in range(1, 61):
        store.record(observation(i, price=9e9, anomalies=("above_ceiling", "iqr_outlier"),
                                 client="flooder"))
        if i % 20 == 0:
            store.record(observation(100 + i, anomalies=("iqr_outlier",), client=f"c{i}"))
    state = store.read("yogyakarta")
    # Every anomaly is counted; only the flooder's first 5 are listed.
    assert (state.predictions, state.anomalous, state.unlisted) == (64, 64, 55)
    assert state.anomalies_by_kind == {"below_floor": 1, "above_ceiling": 60,
                                       "iqr_outlier": 63}
    clients = [a["client"] for a in state.recent_anomalies]
    assert clients.count("flooder") == 5
    assert {"early", "c20", "c40", "c60"} <= set(clients) and len(clients) == 9
    assert [a["request_id"] for a in state.recent_anomalies if a["client"] == "flooder"] == [
        "req-5", "req-4", "req-3", "req-2", "req-1"]


def test_a_client_is_listed_again_once_its_entries_leave_the_ring(store_kind, request,
                                                                   tmp_path):
    store = make_store(store_kind, request, tmp_path, anomaly_history=4, recent_per_client=2)
    for i in range(3):  # the third is unlisted: "a" holds 2 of the ring
        store.record(observation(i, anomalies=("iqr_outlier",), client="a"))
    for i in range(3, 7):  # four others push both of "a"'s entries out
        store.record(observation(i, anomalies=("iqr_outlier",), client=f"other{i}"))
    store.record(observation(7, anomalies=("iqr_outlier",), client="a"))
    state = store.read("yogyakarta")
    assert (state.anomalous, state.unlisted) == (8, 1)
    assert [a["request_id"] for a in state.recent_anomalies] == ["req-7", "req-6", "req-5",
                                                                 "req-4"]


def test_a_smaller_window_configured_later_keeps_only_the_latest(store):
    for i in range(12):
        store.record(observation(i, price=float(i)))
    store.window_size = 3  # as if restarted with a smaller KOSPRICE_WINDOW_SIZE
    store.record(observation(12, price=12.0))
    window = [price for price, _ in store.read("yogyakarta").window]
    # Never an entry older than the last 3, always in order, the newest included (the
    # embedded store may hold fewer until the ring has turned once at its new size).
    assert window == sorted(window) and set(window) <= {10.0, 11.0, 12.0} and 12.0 in window
    for i in range(13, 16):
        store.record(observation(i, price=float(i)))
    state = store.read("yogyakarta")
    assert [price for price, _ in state.window] == [13.0, 14.0, 15.0]
    assert [ms for ms, _ in state.latencies] == [14.0, 15.0, 16.0]
    assert state.predictions == 16


def test_a_read_fetches_only_the_rings_asked_for(store):
    store.record(observation(0, anomalies=("iqr_outlier",)))
    state = store.read("yogyakarta", ("latency",))
    assert (state.predictions, state.requests, state.anomalous) == (1, 1, 1)
    assert state.latencies == [(1.0, 200)]
    assert state.window == [] and state.recent_anomalies == []
    assert store.read("yogyakarta", ()).window == []


def test_regions_do_not_mix(store):
    store.record(observation(0, region="jakarta_pusat"))
    assert store.read("jakarta_pusat").predictions == 1
    assert store.read("yogyakarta").predictions == 0


def _record_many(store, worker: int, count: int) -> None:
    for i in range(count):
        store.record(observation(worker * 1000 + i))


def test_concurrent_processes_lose_nothing(store):
    """Four forked processes record at once, as Gunicorn workers do."""
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_record_many, args=(store, w, 50)) for w in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    state = store.read("yogyakarta")
    assert (state.predictions, state.requests) == (200, 200)
    assert len(state.window) == 5


def test_ping_answers_while_the_store_is_up_and_raises_once_it_is_down(store, store_kind,
                                                                        tmp_path):
    store.ping()
    down = make_down_store(store_kind, tmp_path / "down")
    with pytest.raises(STORE_ERRORS):
        down.ping()


@pytest.mark.redis
def test_redis_keys_share_a_cluster_slot_per_region(request, tmp_path):
    store = make_store("redis", request, tmp_path)
    store.record(observation(0, anomalies=("iqr_outlier",)))
    keys = sorted(k.decode() for k in store.client.scan_iter(f"{store.prefix}:*"))
    # No drift slots recorded: the drift keys are not made.
    assert keys == sorted([*store.keys("yogyakarta"),
                           f"{store.prefix}:{{yogyakarta}}:anomaly_clients"])
    assert set(keys) <= set(store.script_keys("yogyakarta"))
    assert all("{yogyakarta}" in key for key in keys)


@pytest.mark.redis
def test_redis_cluster_keeps_each_region_in_one_slot(request, tmp_path):
    store = make_store("redis-cluster", request, tmp_path)
    for region in ("yogyakarta", "jakarta_pusat", "jakarta_selatan", "jakarta_utara"):
        store.record(observation(0, region=region, anomalies=("iqr_outlier",)))
        slots = {store.client.keyslot(key) for key in store.script_keys(region)}
        assert len(slots) == 1, (region, slots)
        assert store.read(region).anomalous == 1


@pytest.mark.redis
@pytest.mark.parametrize("kind", REDIS_KINDS)
def test_redis_recording_is_one_round_trip(kind, request, tmp_path, monkeypatch):
    store = make_store(kind, request, tmp_path)
    store.record(observation(0))  # loads the script where the region's keys live
    sent = []
    original = redis.connection.AbstractConnection.send_command

    def counting(self, *args, **kwargs):  # every command any client writes to a socket
        sent.append(args[0])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_command", counting)
    started = time.perf_counter()
    store.record(observation(1, anomalies=("iqr_outlier",)))
    assert sent == ["EVALSHA"], f"{sent} in {time.perf_counter() - started:.4f}s"
