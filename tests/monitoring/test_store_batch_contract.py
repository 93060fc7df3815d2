"""A batch request, on every real store: one batch request reads like its predictions recorded
one by one (in order, bounded rings, anomalies), but counts as one request."""

from __future__ import annotations

import json

import pytest

from kosprice.monitoring.store import Observation
from tests.monitoring.conftest import make_store
from tests.monitoring.test_store_contract import observation


def batch(prices, anomalies=None, status=200, request_id="batch-1", version="v1.0.0",
          region="yogyakarta", client="unknown") -> Observation:
    return Observation(region=region, request_id=request_id, timestamp=1_700_000_100.0,
                       status=status, latency_ms=42.5, model_version=version,
                       prices=tuple(prices), anomalies=tuple(anomalies or [()] * len(prices)),
                       client=client, batch=True)


@pytest.fixture
def store(store_kind, request, tmp_path):
    return make_store(store_kind, request, tmp_path, window_size=5, anomaly_history=3)


def test_a_batch_is_one_request_and_many_predictions_in_order(store):
    store.record(observation(0, price=10.0))
    store.record(batch([11.0, 12.0, 13.0]))
    state = store.read("yogyakarta")
    assert (state.requests, state.errors, state.predictions) == (2, 0, 4)
    assert state.window == [(10.0, "v1.0.0"), (11.0, "v1.0.0"), (12.0, "v1.0.0"),
                            (13.0, "v1.0.0")]
    assert state.latencies == [(1.0, 200), (42.5, 200)]
    assert state.by_version == {"v1.0.0": 4}
    assert state.last_prediction_at == pytest.approx(1_700_000_100.0)


def test_a_batch_larger_than_the_window_keeps_its_newest_predictions(store):
    store.record(batch([float(i) for i in range(12)]))
    store.record(batch([100.0, 101.0], version="v2.0.0"))
    state = store.read("yogyakarta")
    assert state.predictions == 14
    assert state.window == [(9.0, "v1.0.0"), (10.0, "v1.0.0"), (11.0, "v1.0.0"),
                            (100.0, "v2.0.0"), (101.0, "v2.0.0")]
    assert state.by_version == {"v1.0.0": 12, "v2.0.0": 2}


def test_anomalies_of_a_batch_are_counted_by_kind_and_kept_newest_first(store):
    kinds = [(), ("above_ceiling", "iqr_outlier"), (), ("iqr_outlier",), ("below_floor",),
             ("iqr_outlier",)]
    store.record(batch([1.0, 9e9, 2.0, 8e6, 5.0, 7e6], kinds, request_id="b7"))
    state = store.read("yogyakarta")
    assert state.anomalous == 4
    assert state.anomalies_by_kind == {"above_ceiling": 1, "iqr_outlier": 3, "below_floor": 1}
    assert [a["request_id"] for a in state.recent_anomalies] == ["b7#5", "b7#4", "b7#3"]
    assert state.recent_anomalies[0] == {
        "request_id": "b7#5", "value": 7e6, "reasons": ["iqr_outlier"],
        "model_version": "v1.0.0", "timestamp": 1_700_000_100.0, "client": "unknown"}
    json.dumps(state.recent_anomalies)


def test_a_failed_batch_counts_as_one_error_without_predictions(store):
    store.record(batch([], status=413, version=None))
    store.record(batch([], status=500, version=None, request_id="batch-2"))
    state = store.read("yogyakarta")
    assert (state.requests, state.errors, state.predictions) == (2, 2, 0)
    assert (state.client_errors, state.server_errors) == (1, 1)
    assert state.window == [] and state.latencies == [(42.5, 413), (42.5, 500)]


def test_a_batch_of_a_thousand_in_one_call(store):
    prices = [1_000_000.0 + i for i in range(1000)]
    store.record(batch(prices, [("iqr_outlier",) if i % 100 == 0 else ()
                                      for i in range(1000)]))
    state = store.read("yogyakarta")
    assert state.predictions == 1000 and state.anomalous == 10
    assert [p for p, _ in state.window] == prices[-5:]


def test_a_flooding_batch_lists_at_most_its_clients_share(store_kind, request, tmp_path):
    store = make_store(store_kind, request, tmp_path, anomaly_history=10, recent_per_client=3)
    store.record(observation(0, anomalies=("iqr_outlier",), client="other"))
    store.record(batch([9e9] * 60, [("above_ceiling",)] * 60, request_id="f",
                             client="flooder"))
    store.record(observation(1, anomalies=("below_floor",), client="third"))
    state = store.read("yogyakarta")
    assert (state.predictions, state.anomalous, state.unlisted) == (62, 62, 57)
    assert state.anomalies_by_kind == {"iqr_outlier": 1, "above_ceiling": 60,
                                       "below_floor": 1}
    assert [(a["client"], a["request_id"]) for a in state.recent_anomalies] == [
        ("third", "req-1"), ("flooder", "f#2"), ("flooder", "f#1"), ("flooder", "f#0"),
        ("other", "req-0")]
