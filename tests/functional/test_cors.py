"""CORS: only the origins in KOSPRICE_CORS_ORIGINS get allow headers; none by default."""

from __future__ import annotations

import pytest

from kosprice.errors import ConfigurationError
from kosprice.settings import Settings

ALLOWED = "http://127.0.0.1:5173"
PREFLIGHT = {"Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "content-type, x-request-id"}


@pytest.fixture
def cors_client(make_app):
    return make_app(cors_origins=(ALLOWED, "https://kos.example.com")).test_client()


def test_a_preflight_from_an_allowed_origin_succeeds(cors_client):
    response = cors_client.options("/predict/yogyakarta", headers={"Origin": ALLOWED,
                                                                   **PREFLIGHT})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    allowed_headers = response.headers["Access-Control-Allow-Headers"].lower()
    assert "content-type" in allowed_headers and "x-request-id" in allowed_headers
    assert response.headers["Access-Control-Max-Age"] == "600"


def test_a_preflight_from_another_origin_gets_no_allow_header(cors_client):
    response = cors_client.options("/predict/yogyakarta", headers={
        "Origin": "http://127.0.0.1:6666", **PREFLIGHT})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_the_actual_request_exposes_the_request_id(cors_client, listing):
    response = cors_client.post("/predict/yogyakarta", json=listing, headers={"Origin": ALLOWED})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "X-Request-ID" in response.headers["Access-Control-Expose-Headers"]
    errored = cors_client.post("/predict/bali", json=listing, headers={"Origin": ALLOWED})
    assert errored.headers["Access-Control-Allow-Origin"] == ALLOWED  # errors readable too


def test_no_origin_is_allowed_by_default(client, listing):
    response = client.options("/predict/yogyakarta", headers={"Origin": ALLOWED, **PREFLIGHT})
    assert "Access-Control-Allow-Origin" not in response.headers
    posted = client.post("/predict/yogyakarta", json=listing, headers={"Origin": ALLOWED})
    assert "Access-Control-Allow-Origin" not in posted.headers


def test_a_preflight_to_an_ops_route_needs_no_token(make_app):
    client = make_app(cors_origins=(ALLOWED,), ops_token="t" * 20).test_client()
    response = client.options("/models", headers={"Origin": ALLOWED,
                                                  "Access-Control-Request-Method": "GET"})
    assert response.status_code == 200
    assert client.get("/models", headers={"Origin": ALLOWED}).status_code == 401


def test_origins_are_parsed_and_checked():
    settings = Settings.from_env({"KOSPRICE_CORS_ORIGINS": f"{ALLOWED}/, https://a.example"})
    assert settings.cors_origins == (ALLOWED, "https://a.example")
    for bad in ("a.example", "https://a.example/path", "ftp://a.example"):
        with pytest.raises(ConfigurationError):
            Settings.from_env({"KOSPRICE_CORS_ORIGINS": bad})
