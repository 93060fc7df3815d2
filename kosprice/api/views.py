"""Routes: thin views over the registry, predictor and monitors."""

from __future__ import annotations

import time

from flask import Blueprint, current_app, g, jsonify, request
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from kosprice.api.schemas import load_listing
from kosprice.logging import get_logger
from kosprice.ml import predictor

bp = Blueprint("api", __name__)
log = get_logger("kosprice.predictions")


def services():
    return current_app.extensions["kosprice"]


def json_body() -> object:
    """Return the parsed JSON body; 415 when it is not JSON, 400 when it does not parse."""
    if not request.is_json:
        raise UnsupportedMediaType("Send the listing as a JSON object (Content-Type: application/json).")
    payload = request.get_json(silent=True)
    if payload is None:
        raise BadRequest("The request body is not a valid JSON document.")
    return payload


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
    price = predictor.predict(model, [listing])[0]
    g.prediction["predicted_price"] = round(price, 2)
    return jsonify(region=region, predicted_price=round(price, 2),
                   model_version=str(model.version), request_id=g.request_id)


@bp.after_app_request
def log_prediction(response):
    """Write the canonical log line of every prediction request, failed ones included."""
    if "prediction" in g:
        fields = dict(g.prediction)
        latency = time.perf_counter() - fields.pop("started")
        level = log.info if response.status_code < 500 else log.error
        level("prediction", status=response.status_code, latency_ms=round(latency * 1000, 3),
              **{"model_version": None, "predicted_price": None, **fields})
    return response
