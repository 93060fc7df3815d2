"""Routes: thin views over the registry, predictor and monitors."""

from __future__ import annotations

import time

from flask import Blueprint, current_app, g, jsonify, request
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from kosprice.api.schemas import load_listing
from kosprice.logging import get_logger
from kosprice.ml import predictor
from kosprice.monitoring.store import Observation

bp = Blueprint("api", __name__)
log = get_logger("kosprice.predictions")


def services():
    return current_app.extensions["kosprice"]


def json_body() -> object:
    """Return the parsed JSON body; 415 when it is not JSON, 400 when it does not parse."""
    if not request.is_json:
        raise UnsupportedMediaType("Send the listing as JSON (Content-Type: application/json).")
    try:
        return request.get_json()
    except BadRequest:  # Flask's message quotes the parser's error: keep it server-side
        raise BadRequest("The request body is not a valid JSON document.") from None


@bp.get("/health")
def health():
    return jsonify(status="ok")


@bp.get("/ready")
def ready():
    registry = services().registry
    return jsonify(status="ready", models={r: str(registry.get(r).version)
                                           for r in registry.regions})


@bp.get("/models")
def list_models():
    registry = services().registry
    return jsonify(regions={
        region: {"serving_version": str(registry.get(region).version),
                 "versions_on_disk": [str(v) for v in registry.versions_on_disk(region)]}
        for region in registry.regions})


@bp.get("/models/<region>")
def describe_model(region: str):
    return jsonify(services().describe_model(region))


@bp.post("/predict/<region>")
def predict(region: str):
    g.prediction = prediction = {"region": region, "started": time.perf_counter()}
    model = services().registry.get(region)
    prediction["model_version"] = version = str(model.version)
    listing = load_listing(json_body(), tuple(model.features))
    called = time.perf_counter()
    price = round(predictor.predict(model, [listing])[0], 2)
    prediction.update(model_latency=time.perf_counter() - called, predicted_price=price,
                      anomalies=services().anomaly_rules(model).classify(price))
    return jsonify(region=region, predicted_price=price, model_version=version,
                   request_id=g.request_id)


@bp.after_app_request
def observe_prediction(response):
    """Log the canonical line of every prediction request and count it, failed ones included."""
    prediction = g.pop("prediction", None)
    if prediction is None:
        return response
    latency_ms = round((time.perf_counter() - prediction["started"]) * 1000, 3)
    version = prediction.get("model_version")
    price = prediction.get("predicted_price")
    anomalies = prediction.get("anomalies", ())
    level = log.info if response.status_code < 500 else log.error
    level("prediction", status=response.status_code, latency_ms=latency_ms,
          region=prediction["region"], model_version=version, predicted_price=price,
          anomalies=list(anomalies))
    if version is not None:  # a known region: its failed requests count in its monitors too
        services().monitor.observe(Observation(
            region=prediction["region"], request_id=g.request_id, timestamp=time.time(),
            status=response.status_code, latency_ms=latency_ms, model_version=version,
            price=price, anomalies=anomalies), prediction.get("model_latency"))
    return response


@bp.get("/prediction-monitor/<region>")
def prediction_monitor(region: str):
    services().registry.get(region)
    return jsonify(services().monitor.prediction_report(region))


@bp.get("/anomaly-monitor/<region>")
def anomaly_monitor(region: str):
    model = services().registry.get(region)
    return jsonify(services().monitor.anomaly_report(region, services().anomaly_rules(model)))


@bp.get("/latency-monitor")
def latency_monitor():
    return jsonify(services().monitor.latency_report(services().registry.regions))
