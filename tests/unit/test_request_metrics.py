"""The app's request metrics hooks count what the exporter's own hooks count."""

from __future__ import annotations

from flask import Flask, abort, request
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_flask_exporter import PrometheusMetrics

from kosprice.api.prometheus import _Metrics, path
from kosprice.monitoring.metrics import LATENCY_BUCKETS


def app_with(exporter_class) -> tuple[Flask, CollectorRegistry]:
    app = Flask("metrics-test")
    app.config["PROPAGATE_EXCEPTIONS"] = False
    registry = CollectorRegistry()
    exporter_class(app, registry=registry, group_by=path, buckets=LATENCY_BUCKETS,
                   defaults_prefix="flask", path=None)

    @app.before_request
    def untrack():
        if request.headers.get("X-Untracked"):
            request.prom_do_not_track = True

    @app.post("/predict/<region>")
    def predict(region):
        return {"region": region}

    @app.get("/refused")
    def refused():
        abort(422)

    @app.get("/broken")
    def broken():
        raise RuntimeError("boom")

    return app, registry


def exposition(registry: CollectorRegistry) -> list[str]:
    """Every sample line but those that hold timings (sums, buckets below +Inf)."""
    return sorted(line for line in generate_latest(registry).decode().splitlines()
                  if "_sum{" not in line and "_created" not in line
                  and ("_bucket{" not in line or 'le="+Inf"' in line))


def test_the_same_series_and_counts_as_the_exporters_hooks():
    results = []
    for exporter_class in (PrometheusMetrics, _Metrics):
        app, registry = app_with(exporter_class)
        client = app.test_client()
        for region in ("a", "b", "a"):
            assert client.post(f"/predict/{region}", json={}).status_code == 200
        assert client.get("/refused").status_code == 422
        assert client.get("/broken").status_code == 500
        assert client.get("/nowhere").status_code == 404
        assert client.delete("/predict/a").status_code == 405
        assert client.post("/predict/a", headers={"X-Untracked": "1"}).status_code == 200
        results.append(exposition(registry))
    assert results[0] == results[1]
    assert any('flask_http_request_exceptions_total{method="GET",status="500"} 1.0' in line
               for line in results[1])
    assert any(line.startswith('flask_http_request_duration_seconds_count{method="POST",'
                               'path="/predict/<region>",status="200"} 3.0')
               for line in results[1])
