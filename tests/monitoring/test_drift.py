"""Shifted traffic against a model trained on the same kind of listings: the shifted feature
is flagged, the others stay stable, and the drift stops being flagged once it ends.

The yogyakarta model here is trained on 2,000 synthetic listings, so its reference bins hold
1,600 rows and the PSI of unshifted traffic stays far below 0.1 (sampling noise is about
(bins - 1) x (1/live + 1/reference)); the traffic is drawn from the same generator.
"""

from __future__ import annotations

import shutil
from collections import Counter

import pytest
import redis
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from kosprice.app import create_app
from kosprice.features import INPUT_FEATURES
from kosprice.ml import predictor
from kosprice.ml.registry import ModelRegistry
from kosprice.monitoring.drift import PREDICTED_PRICE, DriftReference
from kosprice.monitoring.metrics import Metrics
from kosprice.monitoring.monitor import Monitor
from kosprice.monitoring.store import Observation
from kosprice.settings import Settings
from tests.factories import synthetic_rows, train_version, write_csv
from tests.monitoring.conftest import make_store
from tests.servers import RedisServer, require_binary

REGION = "yogyakarta"
SHIFTED = "jarak_ke_bca"
LIVE = 500
"""Predictions per HTTP test (the default minimum sample): noise of unshifted features ~0.03."""
WINDOW = 1_000
"""The drift window when recording directly (cheap): noise near 0.01."""


def listings(n: int, seed: int, shift_km: float = 0.0) -> list[dict]:
    rows = synthetic_rows(n, seed=seed)
    return [{**{k: row[k] for k in INPUT_FEATURES}, SHIFTED: row[SHIFTED] + shift_km}
            for row in rows]


@pytest.fixture(scope="module")
def drift_models(pristine_models, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("drift")
    root = shutil.copytree(pristine_models, tmp / "models")
    shutil.rmtree(root / REGION / "v1.0.0")
    train_version(root, REGION, write_csv(tmp / "big.csv", synthetic_rows(2_000, seed=11)))
    return root


def drift_client(kind: str, models_dir, tmp_path, request):
    """A test client of the app on a `kind` store whose drift window is LIVE predictions."""
    store = ({"redis_url": request.getfixturevalue("redis_url"),
              "store_prefix": request.getfixturevalue("store_prefix")} if kind == "redis"
             else {"state_dir": tmp_path / "state"})
    # The store is not under test (fail-open has its own): a loaded machine that misses the
    # 0.1 s default would drop records, and the window would not hold LIVE predictions.
    settings = Settings.from_env({}, models_dir=models_dir, log_dir=tmp_path / "logs",
                                 drift_window=LIVE, drift_min_sample=LIVE, store_timeout=2.0,
                                 **store)
    return create_app(settings).test_client()


def assert_only_the_shifted_feature_drifts(report: dict) -> None:
    statuses = {name: entry["status"] for name, entry in report["features"].items()}
    assert statuses.pop(SHIFTED) == "significant", report["features"][SHIFTED]
    assert set(statuses.values()) == {"stable"}, statuses
    assert report["status"] == "significant"
    # The price depends on the distance, so the predictions move with it.
    assert report[PREDICTED_PRICE]["status"] != "stable"


def assert_all_stable(report: dict) -> None:
    entries = {**report["features"], PREDICTED_PRICE: report[PREDICTED_PRICE]}
    assert {name: e["status"] for name, e in entries.items()} == dict.fromkeys(entries, "stable")


@pytest.mark.parametrize("kind", [pytest.param("redis", marks=pytest.mark.redis), "sqlite"])
def test_shifted_traffic_over_http_is_flagged_on_the_shifted_feature_only(
        kind, drift_models, tmp_path, request):
    client = drift_client(kind, drift_models, tmp_path, request)
    before = client.get(f"/drift-monitor/{REGION}").json
    assert (before["status"], before["window"]["predictions"]) == ("insufficient data", 0)

    for listing in listings(LIVE, seed=3, shift_km=6.0):
        assert client.post(f"/predict/{REGION}", json=listing).status_code == 200
    report = client.get(f"/drift-monitor/{REGION}").json
    assert report["store"] == kind and report["window"]["predictions"] == LIVE
    assert_only_the_shifted_feature_drifts(report)
    assert report["features"][SHIFTED]["outside_training_range"]["above"] > 0

    gauges = {s.labels["feature"]: s.value
              for family in text_string_to_metric_families(client.get("/metrics").text)
              for s in family.samples
              if s.name == "kosprice_drift_psi" and s.labels["region"] == REGION}
    assert gauges[SHIFTED] == report["features"][SHIFTED]["psi"] > 0.25
    assert max(v for f, v in gauges.items() if f not in (SHIFTED, PREDICTED_PRICE)) < 0.1


@pytest.mark.parametrize("kind", [pytest.param("redis", marks=pytest.mark.redis), "sqlite"])
def test_a_shifted_batch_is_flagged_and_counts_each_listing_in_its_bins(
        kind, drift_models, tmp_path, request):
    client = drift_client(kind, drift_models, tmp_path, request)
    shifted = listings(LIVE, seed=3, shift_km=6.0)  # the listings of the HTTP test above
    invalid = {**shifted[0], "luas_kamar": -1}
    response = client.post(f"/predict/{REGION}/batch", json={"listings": [*shifted, invalid]})
    assert response.status_code == 200, response.json
    assert response.json["rejected"] == 1
    report = client.get(f"/drift-monitor/{REGION}").json
    assert report["window"]["predictions"] == LIVE
    assert_only_the_shifted_feature_drifts(report)

    # The same numbers as binning each listing and the model's output by hand.
    model = ModelRegistry.load(drift_models).get(REGION)
    reference = DriftReference.from_metadata(model.metadata)
    rows = predictor.model_frame(shifted, model.features).to_dict("records")
    prices = predictor.predict(model, shifted)
    counts: Counter[tuple[int, int]] = Counter()
    for row, price in zip(rows, prices, strict=True):
        counts.update(enumerate(int(slot) for slot in reference.encode(row, price).split(",")))
    by_hand = reference.report(LIVE, counts, min_sample=LIVE)
    assert report["features"] == by_hand["features"]
    assert report[PREDICTED_PRICE] == by_hand[PREDICTED_PRICE]


@pytest.mark.parametrize("kind", [pytest.param("redis", marks=pytest.mark.redis), "sqlite"])
def test_a_drift_that_ends_stops_being_flagged(kind, drift_models, tmp_path, request):
    """Normal, then shifted, then normal traffic again, recorded the way the app records it."""
    store = make_store(kind, request, tmp_path)
    store.drift_window = WINDOW
    model = ModelRegistry.load(drift_models).get(REGION)
    reference = DriftReference.from_metadata(model.metadata)
    monitor = Monitor(store, Metrics(CollectorRegistry()), retry_after=5.0,
                      drift_min_sample=WINDOW)

    def send(batch: list[dict]) -> dict:
        rows = predictor.model_frame(batch, model.features).to_dict("records")
        prices = predictor.predict(model, batch)
        for i, (row, price) in enumerate(zip(rows, prices, strict=True)):
            monitor.observe(Observation.single(
                region=REGION, request_id=f"r{i}", timestamp=float(i), status=200,
                latency_ms=1.0, model_version=str(model.version), price=price,
                drift=reference.encode(row, price)))
        return monitor.drift_report(REGION, str(model.version), reference)

    assert_all_stable(send(listings(WINDOW, seed=4)))
    assert_only_the_shifted_feature_drifts(send(listings(WINDOW, seed=5, shift_km=6.0)))
    assert_all_stable(send(listings(WINDOW, seed=6)))



@pytest.mark.redis
def test_a_prediction_or_a_batch_is_still_one_round_trip(drift_models, tmp_path):
    """Redis' MONITOR on a server of the test's own sees every command the app sends, and
    tells those a script ran (client "lua") apart."""
    require_binary("redis-server", "redis-server")
    server = RedisServer(tmp_path).start()
    try:
        settings = Settings.from_env({}, models_dir=drift_models, log_dir=tmp_path / "logs",
                                     redis_url=server.url)
        client = create_app(settings).test_client()
        sent = listings(10, seed=7)
        client.post(f"/predict/{REGION}", json=sent[0])  # loads the scripts once
        client.post(f"/predict/{REGION}/batch", json={"listings": sent[:1]})
        other = redis.Redis.from_url(server.url)
        other.ping()  # connected before MONITOR starts: its handshake is not counted
        with redis.Redis.from_url(server.url).monitor() as monitor:
            for listing in sent:
                assert client.post(f"/predict/{REGION}", json=listing).status_code == 200
            batch = client.post(f"/predict/{REGION}/batch", json={"listings": sent})
            assert batch.status_code == 200
            other.echo("end of predictions")
            seen = []
            while not (seen and seen[-1]["command"].startswith("ECHO")):
                seen.append(monitor.next_command())  # blocks: the marker is on its way
        sent_by_clients = [c["command"].split()[0] for c in seen[:-1]
                           if c["client_type"] != "lua"]
        assert sent_by_clients == ["EVALSHA"] * (len(sent) + 1)  # the batch: one more
        drift = other.hgetall(f"kosprice:{{{REGION}}}:drift")
        assert int(drift[b"v1.0.0|n"]) == 2 * len(sent) + 2
    finally:
        server.stop()
