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
    g.prediction = {"region": region, "started": time.perf_counter()}
    model = services().registry.get(region)
    g.prediction["model_version"] = str(model.version)
    listing = load_listing(json_body(), tuple(model.features))
    called = time.perf_counter()
    price = predictor.predict(model, [listing])[0]
    g.prediction["model_latency"] = time.perf_counter() - called
    g.prediction["predicted_price"] = round(price, 2)
    g.prediction["anomalies"] = services().anomaly_rules(model).classify(price)
    return jsonify(region=region, predicted_price=round(price, 2),
                   model_version=str(model.version), request_id=g.request_id)


@bp.after_app_request
def observe_prediction(response):
    """Log the canonical line of every prediction request and count it, failed ones included."""
    if "prediction" not in g:
        return response
    fields = dict(g.prediction)
    latency_ms = round((time.perf_counter() - fields.pop("started")) * 1000, 3)
    model_latency = fields.pop("model_latency", None)
    fields = {"model_version": None, "predicted_price": None, "anomalies": (), **fields}
    level = log.info if response.status_code < 500 else log.error
    level("prediction", status=response.status_code, latency_ms=latency_ms,
          **{**fields, "anomalies": list(fields["anomalies"])})
    if fields["region"] in services().registry.regions:
        services().monitor.observe(Observation(
            region=fields["region"], request_id=g.request_id, timestamp=time.time(),
            status=response.status_code, latency_ms=latency_ms,
            model_version=fields["model_version"], price=fields["predicted_price"],
            anomalies=tuple(fields["anomalies"])), model_latency)
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
