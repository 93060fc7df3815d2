"""Routes: thin views over the registry, predictor and monitors."""

from __future__ import annotations

import time

from flask import Blueprint, jsonify, request
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from kosprice.api.context import current_request_id
from kosprice.api.observation import start_prediction
from kosprice.api.schemas import load_listing
from kosprice.api.services import services
from kosprice.ml import predictor

bp = Blueprint("api", __name__)


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
    state = start_prediction(region)
    model = services().registry.get(region)
    state.model_version = version = str(model.version)
    listing = load_listing(json_body(), tuple(model.features))
    called = time.perf_counter()
    price = round(predictor.predict(model, [listing])[0], 2)
    state.model_latency = time.perf_counter() - called
    state.predicted_price = price
    state.anomalies = services().anomaly_rules(model).classify(price)
    return jsonify(region=region, predicted_price=price, model_version=version,
                   request_id=current_request_id())


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
