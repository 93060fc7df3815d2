"""marshmallow schemas of the response bodies: what /openapi.json documents.

They are only read by the OpenAPI generator (views build their bodies with jsonify), but a
response field missing here fails the suite: the fuzz test checks every response against
the document, and these schemas refuse unknown fields (`additionalProperties: false`).
"""

from __future__ import annotations

from marshmallow import Schema, fields


class ErrorBody(Schema):
    code = fields.String(required=True, metadata={"example": "validation_error"})
    message = fields.String(required=True, metadata={"example": "The listing is invalid."})
    details = fields.Dict(required=True, metadata={
        "description": "Machine-readable specifics (fields, allowed values); may be empty. "
                       "Lists of fields are capped: `truncated` says how many were left out.",
        "example": {"fields": {"luas_kamar": ["Must be greater than or equal to 1 and "
                                              "less than or equal to 100."]}}})
    request_id = fields.String(required=True, metadata={"example": "3f0c9a52-6f1e-4f7a-9a47"})


class Error(Schema):
    """The one error envelope of every status and route."""

    error = fields.Nested(ErrorBody, required=True)


class PriceRange(Schema):
    low = fields.Integer(required=True, metadata={"example": 984000})
    high = fields.Integer(required=True, metadata={"example": 1538000})
    level = fields.Float(required=True, metadata={
        "description": "Share of listings like this one whose rent falls in the range "
                       "(conformal, measured on held-out listings)", "example": 0.8})


class Verdict(Schema):
    label = fields.String(required=True, allow_none=True, metadata={
        "description": "underpriced / fair / overpriced against price_range (null when the "
                       "model has no calibrated range)", "example": "fair"})
    harga_tawaran = fields.Float(required=True, metadata={"example": 1300000})
    difference_pct = fields.Float(required=True, metadata={
        "description": "(harga_tawaran - predicted_price) / predicted_price, percent",
        "example": 5.7})


class Prediction(Schema):
    region = fields.String(required=True, metadata={"example": "yogyakarta"})
    predicted_price = fields.Integer(required=True, metadata={
        "description": "Fair monthly rent, Rupiah, rounded to Rp 1,000", "example": 1230000})
    price_range = fields.Nested(PriceRange, required=True, allow_none=True, metadata={
        "description": "null only for a model version without a calibrated range"})
    warnings = fields.List(fields.Dict(), required=True, metadata={
        "description": "One entry per input outside what the model was trained on "
                       "(`outside_training_range`, naming the feature), a price moved into "
                       "the training prices (`price_clamped`), `interval_unavailable`, or "
                       "`title_missing` (a model that reads nama_kos priced a listing sent "
                       "without one from the other inputs, with that path's own range)",
        "example": []})
    verdict = fields.Nested(Verdict, metadata={"description": "Only when harga_tawaran is sent"})
    model_version = fields.String(required=True, metadata={"example": "v1.0.0"})
    request_id = fields.String(required=True, metadata={"example": "3f0c9a52-6f1e-4f7a-9a47"})


class BatchItemError(Schema):
    code = fields.String(required=True, metadata={"example": "validation_error"})
    message = fields.String(required=True, metadata={"example": "The listing is invalid."})
    details = fields.Dict(required=True, metadata={
        "example": {"fields": {"tipe_kos": ["Must be one of: putra, putri, campur."]}}})


class BatchItem(Schema):
    """One listing's outcome: a price, or (for an invalid listing) an error."""

    index = fields.Integer(required=True, metadata={"description": "Position in `listings`"})
    predicted_price = fields.Integer(metadata={
        "description": "Fair monthly rent, Rupiah, rounded to Rp 1,000"})
    price_range = fields.Nested(PriceRange, allow_none=True)
    warnings = fields.List(fields.Dict())
    verdict = fields.Nested(Verdict)
    error = fields.Nested(BatchItemError)


class BatchPrediction(Schema):
    region = fields.String(required=True, metadata={"example": "yogyakarta"})
    model_version = fields.String(required=True, metadata={"example": "v1.0.0"})
    request_id = fields.String(required=True, metadata={"example": "3f0c9a52-6f1e-4f7a-9a47"})
    count = fields.Integer(required=True, metadata={"description": "Listings received"})
    predicted = fields.Integer(required=True, metadata={"description": "Listings priced"})
    rejected = fields.Integer(required=True, metadata={"description": "Invalid listings"})
    results = fields.List(fields.Nested(BatchItem), required=True, metadata={
        "description": "One entry per listing, in the order sent"})


class Health(Schema):
    status = fields.String(required=True, metadata={"example": "ok"})


class Ready(Schema):
    status = fields.String(required=True, metadata={"example": "ready"})
    models = fields.Dict(keys=fields.String(), values=fields.String(), required=True,
                         metadata={"description": "Serving version per region",
                                   "example": {"yogyakarta": "v1.0.0"}})


class RegionVersions(Schema):
    serving_version = fields.String(required=True)
    versions_on_disk = fields.List(fields.String(), required=True)


class Models(Schema):
    regions = fields.Dict(keys=fields.String(), values=fields.Nested(RegionVersions),
                          required=True)


class Inference(Schema):
    """How the model is evaluated: the exact fast path, or scikit-learn (with the reason)."""

    engine = fields.String(required=True, metadata={"example": "fast",
                                                    "description": "fast or sklearn"})
    family = fields.String(required=True, allow_none=True, metadata={"example": "forest"})
    checked_rows = fields.Integer(required=True, metadata={
        "description": "Rows on which the fast path was checked against the Pipeline at load"})
    max_relative_error = fields.Float(required=True, allow_none=True)
    tolerance = fields.Float(required=True, metadata={"example": 1e-6})
    warning = fields.String(required=True, allow_none=True, metadata={
        "description": "Why the model is served through scikit-learn, when it is"})
    build_ms = fields.Float(required=True)


class ModelDescription(Schema):
    region = fields.String(required=True)
    model_version = fields.String(required=True)
    model_type = fields.String(required=True)
    target_transform = fields.String(required=True, allow_none=True, metadata={
        "description": "`log` when the model fits log-price (its prices cannot be <= 0)"})
    params = fields.Dict(required=True)
    metrics = fields.Dict(required=True, metadata={"description": "R², MAE, RMSE, MAPE on "
                                                                  "the held-out split"})
    metrics_without_title = fields.Dict(required=True, allow_none=True, metadata={
        "description": "A title model's held-out metrics for the same listings sent without "
                       "their titles; null for a model that does not read the title"})
    inputs = fields.List(fields.String(), required=True, metadata={
        "description": "The listing fields the model uses: what a client must send"})
    optional_inputs = fields.List(fields.String(), required=True, metadata={
        "description": "Fields the model reads when sent (the title, nama_kos)"})
    derived_features = fields.List(fields.String(), required=True, metadata={
        "description": "Model features the server computes (e.g. amenities_count); never sent"})
    trained_at = fields.String(required=True)
    sklearn_version = fields.String(required=True)
    training_rows = fields.Integer(required=True, allow_none=True)
    model_search = fields.Dict(required=True, allow_none=True, metadata={
        "description": "How the model was chosen: CV protocol, winner, CV MAE mean and sd"})
    price_range_coverage = fields.Dict(required=True, allow_none=True, metadata={
        "description": "Per level: the share of held-out listings inside their price_range"})
    price_range_coverage_out_of_fold = fields.Dict(required=True, allow_none=True, metadata={
        "description": "Per level: coverage ± its standard error measured out of fold over "
                       "every cleaned listing (the larger sample); `without_title` for the "
                       "title-less path of a title model"})
    versions_on_disk = fields.List(fields.String(), required=True, metadata={
        "description": "Rollback targets and the serving version, oldest first"})
    history = fields.List(fields.Dict(), required=True, metadata={
        "description": "Promotions and rollbacks, newest first"})
    inference = fields.Nested(Inference, required=True)


class PredictionMonitor(Schema):
    region = fields.String(required=True)
    count = fields.Integer(required=True)
    window_capacity = fields.Integer(required=True)
    window = fields.Dict(required=True, metadata={
        "description": "mean, std, min, max, p50, p90, p95, p99 over the rolling window"})
    by_model_version = fields.Dict(required=True)
    last_prediction_at = fields.String(required=True, allow_none=True)
    store = fields.String(required=True, metadata={"example": "redis"})


class AnomalyMonitor(Schema):
    region = fields.String(required=True)
    predictions = fields.Integer(required=True)
    anomalous_predictions = fields.Integer(required=True)
    anomaly_rate = fields.Float(required=True)
    unlisted = fields.Integer(required=True, metadata={
        "description": "Anomalies counted but kept out of `recent`: their client already "
                       "held `recent_per_client` entries there"})
    by_kind = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    thresholds = fields.Dict(required=True)
    iqr = fields.Dict(required=True)
    recent = fields.List(fields.Dict(), required=True, metadata={
        "description": "Latest listed anomalies, newest first; `client` is a keyed hash of "
                       "the client's address, never the address"})
    recent_capacity = fields.Integer(required=True)
    recent_per_client = fields.Integer(required=True)
    store = fields.String(required=True)


class DriftMonitor(Schema):
    region = fields.String(required=True, metadata={"example": "yogyakarta"})
    model_version = fields.String(required=True, metadata={
        "description": "The serving version whose predictions are compared with its own "
                       "training bins", "example": "v1.0.0"})
    status = fields.String(required=True, metadata={
        "description": "The worst feature status: stable (PSI < 0.1), moderate (0.1-0.25), "
                       "significant (> 0.25); or insufficient data, or no reference",
        "example": "stable"})
    window = fields.Dict(required=True, metadata={
        "description": "predictions of the serving version in the window, its capacity, the "
                       "minimum sample for PSI, other versions' predictions still in it"})
    message = fields.String(required=True, allow_none=True, metadata={
        "example": "120 predictions in the window; PSI is reported from 500"})
    features = fields.Dict(keys=fields.String(), values=fields.Dict(), required=True, metadata={
        "description": "Per feature: psi (null below the minimum sample), status, and each "
                       "bin's reference and live share; numbers also count the live values "
                       "outside the training range"})
    predicted_price = fields.Dict(required=True, metadata={
        "description": "The same for the predicted price, against the model's predictions "
                       "on its training rows"})
    thresholds = fields.Dict(required=True, metadata={
        "example": {"moderate": 0.1, "significant": 0.25, "empty_bin_share": 0.0001}})
    store = fields.String(required=True, metadata={"example": "redis"})


class LatencyWindow(Schema):
    count = fields.Integer(required=True)
    mean = fields.Float(required=True, allow_none=True)
    std = fields.Float(required=True, allow_none=True)
    min = fields.Float(required=True, allow_none=True)
    max = fields.Float(required=True, allow_none=True)
    p50 = fields.Float(required=True, allow_none=True)
    p90 = fields.Float(required=True, allow_none=True)
    p95 = fields.Float(required=True, allow_none=True)
    p99 = fields.Float(required=True, allow_none=True)
    errors = fields.Integer(required=True, metadata={
        "description": "requests in the window answered 4xx or 5xx"})
    client_errors = fields.Integer(required=True, metadata={"description": "answered 4xx"})
    server_errors = fields.Integer(required=True, metadata={"description": "answered 5xx"})


class RegionLatency(Schema):
    requests = fields.Integer(required=True)
    errors = fields.Integer(required=True, metadata={
        "description": "requests answered 4xx or 5xx: client_errors + server_errors"})
    client_errors = fields.Integer(required=True, metadata={
        "description": "requests answered 4xx (the client's request was refused)"})
    server_errors = fields.Integer(required=True, metadata={
        "description": "requests answered 5xx (the service failed); what alerts count"})
    error_rate = fields.Float(required=True, metadata={"description": "errors / requests"})
    server_error_rate = fields.Float(required=True, metadata={
        "description": "server_errors / requests"})
    window = fields.Nested(LatencyWindow, required=True, metadata={
        "description": "the last window_capacity requests: latency statistics (ms, null "
                       "when empty) and how many were answered 4xx or 5xx"})


class LatencyMonitor(Schema):
    unit = fields.String(required=True, metadata={"example": "ms"})
    window_capacity = fields.Integer(required=True)
    regions = fields.Dict(keys=fields.String(), values=fields.Nested(RegionLatency),
                          required=True)
    store = fields.String(required=True)


class Index(Schema):
    docs = fields.String(required=True, metadata={"example": "/docs/"})
    openapi = fields.String(required=True, metadata={"example": "/openapi.json"})


class Options(Schema):
    allowed_methods = fields.List(fields.String(), required=True,
                                  metadata={"example": ["OPTIONS", "POST"]})
