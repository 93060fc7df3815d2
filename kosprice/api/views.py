"""Routes: thin views over the registry, predictor and monitors."""

from __future__ import annotations

import time
from collections import Counter

from flask import Blueprint, jsonify, request
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from kosprice.api import responses
from kosprice.api.batch import load_batch, validate_listing
from kosprice.api.context import current_request_id
from kosprice.api.observation import start_prediction
from kosprice.api.openapi import OPS, PREDICTION, operation
from kosprice.api.schemas import INTERVAL_LEVEL, OFFERED_PRICE, REQUEST_OPTIONS, split_options
from kosprice.api.services import services
from kosprice.features import derive
from kosprice.ml import predictor
from kosprice.ml.intervals import DEFAULT_LEVEL
from kosprice.ml.pricing import price_batch, price_listing

bp = Blueprint("api", __name__)
OPTION_NAMES = frozenset(REQUEST_OPTIONS)
NO_OPTIONS: dict = {}
"""The options of a listing that sent none (never written to)."""


def json_body() -> object:
    """Return the parsed JSON body; 415 when it is not JSON, 400 when it does not parse."""
    if not request.is_json:
        raise UnsupportedMediaType("Send the listing as JSON (Content-Type: application/json).")
    try:
        return request.get_json()
    except BadRequest:  # Flask's message quotes the parser's error: keep it server-side
        raise BadRequest("The request body is not a valid JSON document.") from None
    except RecursionError:  # a few KB of `[[[[...` nest deeper than the parser can go
        raise BadRequest("The request body nests too deeply.") from None


@bp.get("/health")
@operation("Liveness: the process answers", responses.Health)
def health():
    return jsonify(status="ok")


@bp.get("/ready")
@operation("Readiness: every region's model is loaded", responses.Ready)
def ready():
    registry = services().registry
    return jsonify(status="ready", models={r: str(registry.get(r).version)
                                           for r in registry.regions})


@bp.get("/models")
@operation("Serving version and versions on disk per region", responses.Models,
           access=OPS, tag="models")
def list_models():
    registry = services().registry
    return jsonify(regions={
        region: {"serving_version": str(registry.get(region).version),
                 "versions_on_disk": [str(v) for v in registry.versions_on_disk(region)]}
        for region in registry.regions})


@bp.get("/models/<region>")
@operation("Describe a region's serving model and its promotion history",
           responses.ModelDescription, access=OPS, tag="models")
def describe_model(region: str):
    return jsonify(services().describe_model(region))


@bp.post("/predict/<region>")
@operation("Predict the fair monthly rent of one listing", responses.Prediction,
           access=PREDICTION, tag="predictions", request="Listing",
           description="Every feature the region's model uses is required; catalogue "
                       "features it does not use are accepted and ignored; unknown fields "
                       "are refused.")
def predict(region: str):
    state = start_prediction(region)
    model = services().registry.get(region)
    state.model_version = version = str(model.version)
    listing, options = split_options(validate_listing(json_body(), tuple(model.features)))
    called = time.perf_counter()
    raw = predictor.predict(model, [listing])[0]
    state.model_latency = time.perf_counter() - called
    row = derive(listing, model.features)
    priced = price_listing(raw, row, model.metadata,
                           options.get(INTERVAL_LEVEL, DEFAULT_LEVEL), options.get(OFFERED_PRICE))
    state.prices = (priced.predicted_price,)
    state.warnings = Counter(warning["code"] for warning in priced.warnings)
    # Anomalies judge what the model said, before any clamp to the training prices.
    state.anomalies = (services().anomaly_rules(model).classify(raw),)
    # Drift bins the model's own output, as its prediction reference does (not the rounded
    # or bounded price the client gets).
    state.drift = (services().drift_reference(model).encode(row, raw),)
    return jsonify(region=region, **priced.as_dict(), model_version=version,
                   request_id=current_request_id())


BATCH_REQUEST = {
    "type": "object", "required": ["listings"], "additionalProperties": False,
    "properties": {"listings": {
        "type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/Listing"},
        "description": "At most KOSPRICE_BATCH_MAX_ITEMS (default 1,000) listings"}}}


@bp.post("/predict/<region>/batch")
@operation("Predict the fair monthly rent of up to 1,000 listings", responses.BatchPrediction,
           access=PREDICTION, tag="predictions", request=BATCH_REQUEST,
           description="Results come in the order sent. An invalid listing does not fail "
                       "the batch: it carries its own validation error and the others are "
                       "priced. More than KOSPRICE_BATCH_MAX_ITEMS listings, or a body over "
                       "KOSPRICE_BATCH_MAX_CONTENT_LENGTH bytes: 413.")
def predict_batch(region: str):
    """Price up to KOSPRICE_BATCH_MAX_ITEMS listings: results in order, each valid item
    priced, each invalid one carrying its field errors (the batch is not failed by them)."""
    settings = services().settings
    state = start_prediction(region, batch=True)
    model = services().registry.get(region)
    state.model_version = version = str(model.version)
    valid, errors = load_batch(json_body(), tuple(model.features), settings.batch_max_items)
    state.items = len(valid) + len(errors)
    # Only a listing that names an option needs splitting (the quick check passes none).
    split = [(index, *split_options(listing)) if listing.keys() & OPTION_NAMES
             else (index, listing, NO_OPTIONS) for index, listing in valid]
    called = time.perf_counter()
    raw = predictor.predict(model, [listing for _, listing, _ in split]) if split else []
    state.model_latency = time.perf_counter() - called
    rows = [derive(listing, model.features) for _, listing, _ in split]
    asked = {number: (options.get(INTERVAL_LEVEL, DEFAULT_LEVEL), options.get(OFFERED_PRICE))
             for number, (_, _, options) in enumerate(split) if options}
    priced = price_batch(raw, rows, model.metadata, asked)
    rules = services().anomaly_rules(model)
    state.prices = tuple(p["predicted_price"] for p in priced)
    state.warnings = Counter(warning["code"] for p in priced for warning in p["warnings"])
    state.anomalies = tuple(rules.classify(p) for p in raw)
    # Drift bins the model's own output, as its prediction reference does.
    reference = services().drift_reference(model)
    state.drift = tuple(reference.encode_many(rows, raw))
    results: list[dict] = [{}] * state.items
    for (index, _, _), item in zip(split, priced, strict=True):
        results[index] = {"index": index, **item}
    for index, fields in errors.items():
        results[index] = {"index": index, "error": {
            "code": "validation_error", "message": "The listing is invalid.",
            "details": {"fields": fields}}}
    return jsonify(region=region, model_version=version, request_id=current_request_id(),
                   count=state.items, predicted=len(priced), rejected=len(errors),
                   results=results)


predict_batch.body_limit_setting = "batch_max_content_length"  # read by api.hardening


@bp.get("/prediction-monitor/<region>")
@operation("Predictions over the rolling window, by model version",
           responses.PredictionMonitor, access=OPS, tag="monitors", errors=(503,))
def prediction_monitor(region: str):
    services().registry.get(region)
    return jsonify(services().monitor.prediction_report(region))


@bp.get("/anomaly-monitor/<region>")
@operation("Anomalous predictions by kind, thresholds, IQR fences, recent anomalies",
           responses.AnomalyMonitor, access=OPS, tag="monitors", errors=(503,))
def anomaly_monitor(region: str):
    model = services().registry.get(region)
    return jsonify(services().monitor.anomaly_report(region, services().anomaly_rules(model)))


@bp.get("/drift-monitor/<region>")
@operation("PSI of recent predictions against the serving model's training bins",
           responses.DriftMonitor, access=OPS, tag="monitors", errors=(503,))
def drift_monitor(region: str):
    return jsonify(services().drift_report(region))


@bp.get("/latency-monitor")
@operation("Requests, errors and latency percentiles per region",
           responses.LatencyMonitor, access=OPS, tag="monitors", errors=(503,))
def latency_monitor():
    return jsonify(services().monitor.latency_report(services().registry.regions))
