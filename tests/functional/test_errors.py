"""One error shape for every status and route, and the X-Request-ID round trip."""

from __future__ import annotations

import json
import uuid

import pytest

from kosprice.errors import IntegrityError


def assert_error(response, status: int, code: str) -> dict:
    """Check the envelope every error shares; return its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert list(body) == ["error"]
    error = body["error"]
    assert list(error) == ["code", "message", "details", "request_id"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)
    assert response.headers["X-Request-ID"] == error["request_id"]
    assert "Traceback" not in response.get_data(as_text=True)
    return error


def test_400_malformed_json(client):
    response = client.post("/predict/yogyakarta", data='{"luas_kamar": 12,',
                           content_type="application/json")
    error = assert_error(response, 400, "malformed_request")
    assert error["message"] == "The request body is not a valid JSON document."


def test_404_unknown_region(client, listing):
    error = assert_error(client.post("/predict/bali", json=listing), 404, "unknown_region")
    assert error["details"] == {"regions": ["jakarta_pusat", "jakarta_selatan",
                                            "jakarta_utara", "yogyakarta"]}
    assert_error(client.get("/models/bali"), 404, "unknown_region")


@pytest.mark.parametrize("path", ["/nope", "/predict", "/predict/yogyakarta/extra"])
def test_404_unknown_route(client, path):
    assert_error(client.get(path), 404, "not_found")


def test_405_method_not_allowed(client):
    response = client.get("/predict/yogyakarta")
    error = assert_error(response, 405, "method_not_allowed")
    assert "POST" in error["details"]["allowed_methods"]
    assert "POST" in response.headers["Allow"]
    assert_error(client.delete("/health"), 405, "method_not_allowed")


def test_413_body_over_the_configured_limit(make_app, listing):
    client = make_app(max_content_length=512).test_client()
    padded = {**listing, "nama_kos": "x" * 600}
    error = assert_error(client.post("/predict/yogyakarta", json=padded), 413,
                         "payload_too_large")
    assert error["details"] == {}
    # Just under the limit the same route answers normally.
    assert client.post("/predict/yogyakarta", json=listing).status_code == 200


@pytest.mark.parametrize(("data", "content_type"), [
    ("luas_kamar=12", "application/x-www-form-urlencoded"),
    (json.dumps({"luas_kamar": 12}), "text/plain"),
    ("", None),
])
def test_415_not_json(client, data, content_type):
    response = client.post("/predict/yogyakarta", data=data, content_type=content_type)
    assert_error(response, 415, "unsupported_media_type")


def test_422_validation(client, listing):
    error = assert_error(client.post("/predict/yogyakarta", json={**listing, "luas_kamar": 0}),
                         422, "validation_error")
    assert list(error["details"]["fields"]) == ["luas_kamar"]


def test_a_size_below_one_square_metre_is_refused_naming_the_bound(client, listing):
    error = assert_error(client.post("/predict/yogyakarta", json={**listing, "luas_kamar": 0.5}),
                         422, "validation_error")
    assert error["details"]["fields"]["luas_kamar"] == [
        "Must be greater than or equal to 1 and less than or equal to 100."]
    assert client.post("/predict/yogyakarta", json={**listing, "luas_kamar": 1}).status_code == 200


@pytest.fixture
def failing_app(app):
    """The app with test-only routes that fail the way bugs and broken artifacts do."""

    @app.get("/test-only/boom")
    def boom():
        raise RuntimeError("secret internals")

    @app.get("/test-only/integrity")
    def integrity():
        raise IntegrityError(["/srv/secret/models/yogyakarta/v1.0.0: tampered"])

    return app


def test_500_unexpected_exception_stays_generic(failing_app):
    response = failing_app.test_client().get("/test-only/boom")
    error = assert_error(response, 500, "internal_error")
    assert error["message"] == "The server encountered an internal error."
    assert error["details"] == {}
    text = response.get_data(as_text=True)
    assert "secret" not in text and "RuntimeError" not in text


def test_500_from_a_kosprice_error_does_not_leak_its_message(failing_app):
    response = failing_app.test_client().get("/test-only/integrity")
    error = assert_error(response, 500, "integrity_error")
    assert error["message"] == "The server encountered an internal error."
    assert "secret" not in response.get_data(as_text=True)


def test_well_formed_request_id_is_echoed(client, listing):
    response = client.post("/predict/yogyakarta", json=listing,
                           headers={"X-Request-ID": "checkout-42.retry_1"})
    assert response.headers["X-Request-ID"] == "checkout-42.retry_1"
    assert response.get_json()["request_id"] == "checkout-42.retry_1"


def test_well_formed_request_id_is_echoed_on_errors(client):
    response = client.get("/nope", headers={"X-Request-ID": "trace-404"})
    assert assert_error(response, 404, "not_found")["request_id"] == "trace-404"


@pytest.mark.parametrize("header", ["x" * 129, "has space", "semi;colon", "quote\"d", "ü"])
def test_malformed_request_id_is_replaced_by_a_uuid4(client, listing, header):
    response = client.post("/predict/yogyakarta", json=listing, headers={"X-Request-ID": header})
    replaced = response.headers["X-Request-ID"]
    assert replaced != header
    assert uuid.UUID(replaced).version == 4
    assert response.get_json()["request_id"] == replaced


def test_every_response_gets_a_request_id(client):
    ids = {client.get("/health").headers["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3
