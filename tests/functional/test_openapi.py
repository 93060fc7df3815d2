"""/openapi.json: generated, valid, complete; /docs serves Swagger UI from the package."""

from __future__ import annotations

import re

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate as validate_spec
from referencing import Registry, Resource

from kosprice.api.openapi import ASSET_RULES, EXAMPLE_LISTING, undocumented_rules
from kosprice.features import REGIONS


@pytest.fixture
def spec(client) -> dict:
    response = client.get("/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def conforms(spec: dict, component: str, instance: object) -> None:
    """Raise unless `instance` is valid against `#/components/schemas/{component}`."""
    registry = Registry().with_resource("spec", Resource.opaque(spec))
    OAS30Validator({"$ref": f"spec#/components/schemas/{component}"},
                   registry=registry).validate(instance)


def test_the_document_is_valid_openapi(spec):
    validate_spec(spec)
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] == "kosprice"


def test_every_url_rule_of_the_app_is_documented(app, spec):
    """A route added without an `@operation(...)` declaration fails here."""
    assert undocumented_rules(app) == []
    documented = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if rule.rule in ASSET_RULES:
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method.lower()) in documented, f"{method} {rule.rule} undocumented"


def test_a_view_without_a_declaration_is_reported(app):
    @app.get("/test-only/undocumented")
    def undocumented():
        return {}

    assert undocumented_rules(app) == ["/test-only/undocumented"]


def test_the_error_envelope_is_one_shared_component(spec):
    body = spec["components"]["schemas"]["ErrorBody"]
    assert set(body["required"]) == {"code", "message", "details", "request_id"}
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            assert op["responses"]["default"] == {"$ref": "#/components/responses/Error"}
            for status, response in op["responses"].items():
                if status.startswith(("4", "5")):
                    name = response["$ref"].rsplit("/", 1)[1]
                    content = spec["components"]["responses"][name]["content"]
                    assert content["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/Error"}, (path, method, status)
                    conforms(spec, "Error", content["application/json"]["example"])


def test_the_listing_comes_from_the_feature_catalogue(spec):
    listing = spec["components"]["schemas"]["Listing"]
    assert listing["additionalProperties"] is False
    assert listing["properties"]["luas_kamar"] == {
        "type": "number", "minimum": 1.0, "maximum": 100.0,
        "description": "Room size (m²)"}
    assert listing["properties"]["tipe_kos"]["enum"] == ["putra", "putri", "campur"]
    assert listing["properties"]["is_ac"]["enum"] == [0, 1]
    assert "amenities_count" not in listing["properties"]  # derived by the server
    predict = spec["paths"]["/predict/{region}"]["post"]
    assert predict["parameters"][0]["schema"]["enum"] == list(REGIONS)
    assert predict["requestBody"]["content"]["application/json"]["example"] == EXAMPLE_LISTING
    conforms(spec, "Listing", EXAMPLE_LISTING)


def test_the_documented_example_predicts_and_the_answer_conforms(client, spec):
    for region in REGIONS:
        response = client.post(f"/predict/{region}", json=EXAMPLE_LISTING)
        assert response.status_code == 200, response.get_json()
        conforms(spec, "Prediction", response.get_json())


@pytest.mark.parametrize(("path", "component"), [
    ("/health", "Health"), ("/ready", "Ready"), ("/models", "Models"),
    ("/models/yogyakarta", "ModelDescription"),
    ("/prediction-monitor/yogyakarta", "PredictionMonitor"),
    ("/anomaly-monitor/yogyakarta", "AnomalyMonitor"), ("/latency-monitor", "LatencyMonitor"),
    ("/drift-monitor/yogyakarta", "DriftMonitor"),
])
def test_every_json_answer_conforms_to_its_schema(client, spec, path, component):
    client.post("/predict/yogyakarta", json=EXAMPLE_LISTING)
    response = client.get(path)
    assert response.status_code == 200
    conforms(spec, component, response.get_json())


def test_ops_routes_declare_the_bearer_token_only_when_one_is_set(spec, make_app):
    assert "securitySchemes" not in spec.get("components", {})
    secured = make_app(ops_token="s" * 32).test_client().get("/openapi.json").get_json()
    assert secured["components"]["securitySchemes"]["opsToken"]["scheme"] == "bearer"
    assert secured["paths"]["/metrics"]["get"]["security"] == [{"opsToken": []}]
    assert "security" not in secured["paths"]["/predict/{region}"]["post"]
    assert "401" in secured["paths"]["/models"]["get"]["responses"]


def test_root_points_to_the_docs(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/docs/"
    assert response.get_json() == {"docs": "/docs/", "openapi": "/openapi.json"}


def test_the_docs_page_needs_nothing_from_another_host(client):
    page = client.get("/docs/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(a.startswith("/docs/") for a in assets), assets
    assert '"url": "/openapi.json"' in html
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def test_no_docs_asset_route_reaches_outside_the_package(client):
    response = client.get("/docs/..%2f..%2fsettings.py")
    assert response.status_code == 404
