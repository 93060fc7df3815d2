"""Monitor endpoints through the Flask test client, on the embedded store."""

from __future__ import annotations

import pytest

from kosprice.app import create_app
from kosprice.monitoring.anomalies import AnomalyRules, Fences
from kosprice.monitoring.monitor import CircuitBreaker
from kosprice.monitoring.stats import summarize
from kosprice.settings import Settings
from tests.factories import LISTING


def test_no_predictions_yet_is_a_count_of_zero(client):
    body = client.get("/prediction-monitor/jakarta_pusat").json
    assert body["count"] == 0 and body["window"]["count"] == 0
    assert body["window"]["p50"] is None and body["last_prediction_at"] is None
    anomalies = client.get("/anomaly-monitor/jakarta_pusat").json
    assert anomalies["anomalous_predictions"] == 0 and anomalies["anomaly_rate"] == 0.0
    assert anomalies["iqr"]["live"] is None


@pytest.mark.parametrize("path", ["/prediction-monitor/atlantis", "/anomaly-monitor/atlantis"])
def test_unknown_region_is_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.json["error"]["code"] == "unknown_region"


def test_prediction_monitor_summarizes_the_window_by_version(client):
    prices = [client.post("/predict/yogyakarta", json={**LISTING, "luas_kamar": size}).json[
        "predicted_price"] for size in (8, 10, 12, 14, 16)]
    client.post("/predict/yogyakarta", json={**LISTING, "luas_kamar": -1})  # 422: not counted
    body = client.get("/prediction-monitor/yogyakarta").json
    assert body["count"] == 5
    assert body["window"]["min"] == pytest.approx(min(prices), abs=0.01)
    assert body["window"]["max"] == pytest.approx(max(prices), abs=0.01)
    assert body["window"]["p50"] == pytest.approx(sorted(prices)[2], abs=0.01)
    assert body["by_model_version"]["v1.0.0"]["count"] == 5
    assert body["last_prediction_at"].endswith("+00:00")
    latency = client.get("/latency-monitor").json["regions"]["yogyakarta"]
    assert (latency["requests"], latency["errors"]) == (6, 1)
    assert (latency["client_errors"], latency["server_errors"]) == (1, 0)
    assert (latency["error_rate"], latency["server_error_rate"]) == (round(1 / 6, 6), 0.0)
    assert (latency["window"]["client_errors"], latency["window"]["server_errors"]) == (1, 0)
    # Every request of a known region, the refused one too, is in the per-region histogram.
    metrics = client.get("/metrics").text
    assert 'kosprice_request_latency_seconds_count{region="yogyakarta"} 6.0' in metrics
    assert latency["window"]["p99"] >= latency["window"]["p50"] > 0


def test_hard_thresholds_and_iqr_flag_predictions(models_dir, tmp_path):
    settings = Settings.from_env({}, models_dir=models_dir, state_dir=tmp_path / "state",
                                 price_limits={"yogyakarta": (4_000_000.0, 5_000_000.0)})
    client = create_app(settings).test_client()
    for size in (4, 20, 60, 99):
        client.post("/predict/yogyakarta", json={**LISTING, "luas_kamar": size})
    body = client.get("/anomaly-monitor/yogyakarta").json
    assert body["thresholds"] == {"floor": 4_000_000.0, "ceiling": 5_000_000.0,
                                  "source": "configured"}
    assert body["by_kind"]["below_floor"] >= 1 and body["by_kind"]["above_ceiling"] >= 1
    assert body["anomalous_predictions"] == len(body["recent"]) <= 4
    assert body["anomaly_rate"] == body["anomalous_predictions"] / 4
    metrics = client.get("/metrics").text
    assert 'kosprice_anomalies_total{kind="below_floor",region="yogyakarta"}' in metrics


def test_default_thresholds_follow_the_training_distribution():
    metadata = {"price_distribution": {"min": 400_000, "max": 6_000_000,
                                       "q1": 1_000_000, "q3": 2_000_000}}
    rules = AnomalyRules.from_metadata(metadata)
    assert (rules.floor, rules.ceiling) == (200_000, 12_000_000)
    assert (rules.training.low, rules.training.high) == (-500_000, 3_500_000)
    assert rules.classify(1_500_000) == ()
    assert rules.classify(3_600_000) == ("iqr_outlier",)
    assert rules.classify(100_000) == ("below_floor",)
    assert rules.classify(13_000_000) == ("above_ceiling", "iqr_outlier")


def test_fences_of_a_window():
    fences = Fences.of([1, 2, 3, 4, 5, 6, 7, 8, 9, 100])
    assert fences.outside(100) and not fences.outside(5)


def test_summarize():
    assert summarize([]) == {"count": 0, "mean": None, "std": None, "min": None, "max": None,
                             "p50": None, "p90": None, "p95": None, "p99": None}
    s = summarize(range(1, 101))
    assert (s["count"], s["min"], s["max"], s["p50"], s["p99"]) == (100, 1, 100, 50.5, 99.01)


def test_circuit_breaker_reopens_after_its_period():
    now = [100.0]
    breaker = CircuitBreaker(5.0, clock=lambda: now[0])
    assert not breaker.is_open
    breaker.trip()
    now[0] += 4.9
    assert breaker.is_open
    now[0] += 0.2
    assert not breaker.is_open




def test_a_flood_from_one_client_cannot_widen_the_fences(app, client):
    """Fences come from the training prices only: extreme traffic is counted, not absorbed.

    (Window fences made 60 predictions from one client the norm: −4.4M…5.3M.)
    """
    import time

    from kosprice.monitoring.store import Observation

    before = client.get("/anomaly-monitor/yogyakarta").json["iqr"]["training"]
    version = client.get("/ready").json["models"]["yogyakarta"]
    monitor = app.extensions["kosprice"].monitor
    for i in range(60):  # what 60 requests from one client recorded, one extreme each
        monitor.observe(Observation.single(
            region="yogyakarta", request_id=f"flood-{i}", timestamp=time.time(), status=200,
            latency_ms=1.0, model_version=version, price=(-4.4e6, 5.3e7)[i % 2]))
    report = client.get("/anomaly-monitor/yogyakarta").json
    assert report["iqr"]["training"] == before
    live = report["iqr"]["live"]
    assert set(live) == {"window", "outside_training_fences", "outside_rate"}
    assert live["window"] == 60 and live["outside_training_fences"] == 60
