"""The OpenAPI document, generated from the routes and the marshmallow schemas.

Every route declares itself once, beside its view:

    @bp.get("/models/<region>")
    @operation("Describe a region's serving model", responses.ModelDescription, access=OPS)
    def describe_model(region): ...

The declaration feeds /openapi.json (apispec), and its `access` decides who may call the
route (ops token, rate limits: kosprice.api.access). A route without one fails the suite
(tests/functional/test_openapi.py); views registered by libraries (/metrics) are declared
with `declare(app, endpoint, ...)`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask, current_app, jsonify
from flask_swagger_ui import get_swaggerui_blueprint
from marshmallow import Schema

import kosprice
from kosprice.api import responses
from kosprice.api.schemas import Flag, listing_schema
from kosprice.api.services import EXTENSION
from kosprice.features import FEATURES

PUBLIC, PREDICTION, OPS = "public", "prediction", "ops"
"""Who may call a route: anyone; anyone within the rate limits; holders of the ops token."""

DOCS_URL = "/docs"
SPEC_URL = "/openapi.json"
ASSET_RULES = frozenset({f"{DOCS_URL}/<path:path>"})
"""URL rules left out of the document on purpose: Swagger UI's static files."""

EXAMPLE_LISTING = {
    "luas_kamar": 12, "jarak_ke_bca": 1.5, "tipe_kos": "putri", "is_km_dalam": 1,
    "is_water_heater": 0, "is_furnished": 1, "is_listrik_free": 0, "is_parkir_mobil": 0,
    "is_mesin_cuci": 1,
}

_ERRORS = {  # status: (component name, description, example code, example message)
    400: ("BadRequest", "Malformed request: the body is not valid JSON or its framing is "
          "broken", "malformed_request", "The request body is not a valid JSON document."),
    401: ("Unauthorized", "The ops token is missing or wrong (only when KOSPRICE_OPS_TOKEN "
          "is set)", "unauthorized", "A valid ops token is required."),
    404: ("NotFound", "Unknown region or route", "unknown_region", "Unknown region 'bali'."),
    413: ("PayloadTooLarge", "Body over KOSPRICE_MAX_CONTENT_LENGTH", "payload_too_large",
          "The data value transmitted exceeds the capacity limit."),
    415: ("UnsupportedMediaType", "The body is not JSON", "unsupported_media_type",
          "Send the listing as JSON (Content-Type: application/json)."),
    422: ("ValidationError", "The listing is invalid: `details.fields` names each problem",
          "validation_error", "The listing is invalid."),
    429: ("TooManyRequests", "Over this client's rate limit; retry after `Retry-After` "
          "seconds", "too_many_requests", "Rate limit exceeded."),
    503: ("Unavailable", "The monitoring store is unavailable (predictions still work)",
          "monitor_store_unavailable", "The monitoring store is unavailable."),
}
_DEFAULT_ERROR = ("Error", "Any other error, in the same envelope (405, 500, ...)",
                  "internal_error", "The server encountered an internal error.")


@dataclass(frozen=True)
class Operation:
    """One route's documentation and access rule."""

    summary: str
    response: type[Schema] | dict | None
    """The success body: a Schema or a JSON Schema; None for text (see `media_type`)."""
    access: str = PUBLIC
    tag: str = "service"
    description: str = ""
    request: str | dict | type[Schema] | None = None
    """The JSON request body: a component name ("Listing"), a JSON Schema or a Schema."""
    errors: tuple[int, ...] = ()
    media_type: str = "application/json"
    status: int = 200


def operation(summary: str, response: type[Schema] | dict | None, **options: Any):
    """Declare a view's documentation and access rule (see the module docstring)."""
    declared = Operation(summary, response, **options)

    def attach(view):
        view.openapi_operation = declared
        return view

    return attach


def declare(app: Flask, endpoint: str, summary: str, response: type[Schema] | dict | None,
            **options: Any) -> None:
    """Declare a route whose view kosprice does not define (a library's)."""
    app.extensions.setdefault("kosprice.operations", {})[endpoint] = Operation(
        summary, response, **options)


def operation_of(app: Flask, endpoint: str | None) -> Operation | None:
    """The declaration of an endpoint, or None when it has none."""
    if endpoint is None:
        return None
    declared = app.extensions.get("kosprice.operations", {}).get(endpoint)
    view = app.view_functions.get(endpoint)
    return declared or getattr(view, "openapi_operation", None)


def _feature_property(converter, field, **_kwargs) -> dict:
    """What apispec does not say about a listing field: its meaning, unit, open bounds."""
    feature = FEATURES.get(field.name or "")
    if feature is None or field.parent is None or field.parent.__class__.__name__ != "Listing":
        return {}
    unit = f" ({feature.unit})" if feature.unit else ""
    extra: dict[str, Any] = {"description": feature.description + unit}
    if isinstance(field, Flag):
        extra.update(type="integer", enum=[0, 1])
        extra["description"] += ": 0 or 1 (JSON true/false are accepted as 1/0)"
    if feature.exclusive_minimum:
        extra["exclusiveMinimum"] = True
    return extra


def _error_component(status: int | None) -> tuple[str, dict]:
    name, description, code, message = _ERRORS[status] if status else _DEFAULT_ERROR
    example = {"error": {"code": code, "message": message, "details": {},
                         "request_id": "3f0c9a52-6f1e-4f7a-9a47-2f8d1c5e0b11"}}
    return name, {"description": description, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}, "example": example}}}


def _path_and_parameters(rule: str, regions: list[str]) -> tuple[str, list[dict]]:
    parameters = []
    for converter, name in re.findall(r"<(?:(\w+):)?(\w+)>", rule):
        schema = ({"type": "string", "enum": regions} if name == "region"
                  else {"type": "integer"} if converter == "int" else {"type": "string"})
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule), parameters


def _request_body(request: str | dict | type[Schema]) -> dict:
    if isinstance(request, str):
        schema = {"$ref": f"#/components/schemas/{request}"}
    else:
        schema = request
    content = {"schema": schema}
    if request == "Listing":
        content["example"] = EXAMPLE_LISTING
    return {"required": True, "content": {"application/json": content}}


def _operation_dict(op: Operation, parameters: list[dict], ops_token: bool) -> dict:
    errors = set(op.errors)
    if any(p["name"] == "region" for p in parameters):
        errors.add(404)
    if op.request is not None:
        errors |= {400, 413, 415, 422}
    if op.access == PREDICTION:
        errors.add(429)
    if op.access == OPS and ops_token:
        errors.add(401)
    success: dict[str, Any] = {"description": op.summary}
    if op.response is not None:
        success["content"] = {op.media_type: {"schema": op.response}}
    else:
        success["content"] = {op.media_type: {"schema": {"type": "string"}}}
    result: dict[str, Any] = {
        "summary": op.summary, "tags": [op.tag],
        "responses": {str(op.status): success,
                      **{str(s): _error_component(s)[0] for s in sorted(errors)},
                      "default": "Error"},
    }
    if op.description:
        result["description"] = op.description
    if parameters:
        result["parameters"] = parameters
    if op.request is not None:
        result["requestBody"] = _request_body(op.request)
    if op.access == OPS and ops_token:
        result["security"] = [{"opsToken": []}]
    return result


def undocumented_rules(app: Flask) -> list[str]:
    """URL rules with no declaration (other than Swagger UI's assets)."""
    return sorted(rule.rule for rule in app.url_map.iter_rules()
                  if rule.rule not in ASSET_RULES and operation_of(app, rule.endpoint) is None)


def build_spec(app: Flask) -> dict:
    """Generate the OpenAPI document of every declared route of `app`."""
    svc = app.extensions[EXTENSION]
    regions = list(svc.registry.regions)
    ops_token = bool(svc.settings.ops_token)
    marshmallow = MarshmallowPlugin()
    spec = APISpec(
        title="kosprice", version=kosprice.__version__, openapi_version="3.0.3",
        plugins=[marshmallow],
        info={"description": "Fair monthly rents for Indonesian boarding houses (kos). "
                             "Every error has one shape: the `Error` schema."})
    marshmallow.converter.add_attribute_function(_feature_property)
    required = set.intersection(*(set(m.features) for m in svc.registry.serving_models()))
    spec.components.schema("Listing", schema=listing_schema(tuple(sorted(required))))
    spec.components.schema("Error", schema=responses.Error)
    for status in (*_ERRORS, None):
        spec.components.response(*_error_component(status))
    if ops_token:
        spec.components.security_scheme("opsToken", {
            "type": "http", "scheme": "bearer",
            "description": "KOSPRICE_OPS_TOKEN: required by /models*, the monitors, /metrics"})
    paths: dict[str, dict] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        op = operation_of(app, rule.endpoint)
        if op is None or rule.rule in ASSET_RULES:
            continue
        path, parameters = _path_and_parameters(rule.rule, regions)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation_dict(op, parameters,
                                                                         ops_token)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def openapi_document():
    if "kosprice.openapi" not in current_app.extensions:  # the routes are fixed by now
        current_app.extensions["kosprice.openapi"] = build_spec(current_app)
    return jsonify(current_app.extensions["kosprice.openapi"])


def index():
    response = jsonify(docs=f"{DOCS_URL}/", openapi=SPEC_URL)
    response.status_code = 302
    response.headers["Location"] = f"{DOCS_URL}/"
    return response


def init_app(app: Flask) -> None:
    """Serve /openapi.json, the Swagger UI at /docs (assets from the package) and / -> /docs."""
    app.add_url_rule(SPEC_URL, "openapi", operation(
        "This OpenAPI document", {"type": "object"}, tag="docs")(openapi_document))
    app.add_url_rule("/", "index", operation(
        "Redirect to the API docs", responses.Index, tag="docs", status=302)(index))
    app.register_blueprint(get_swaggerui_blueprint(
        DOCS_URL, SPEC_URL, config={"app_name": "kosprice API", "tryItOutEnabled": True,
                                    "displayRequestDuration": True}))
    declare(app, "swagger_ui.show", "Interactive API docs (Swagger UI)", None, tag="docs",
            media_type="text/html")
    declare(app, "prometheus_metrics", "Prometheus metrics of all workers", None,
            access=OPS, tag="ops", media_type="text/plain")

