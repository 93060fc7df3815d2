"""KOSPRICE_OPS_TOKEN: ops routes need the bearer token, everything a client uses stays open."""

from __future__ import annotations

import pytest

from kosprice.api.access import bearer_token
from tests.functional.test_errors import assert_error

TOKEN = "ops-token-0123456789abcdef"
OPS_PATHS = ["/models", "/models/yogyakarta", "/prediction-monitor/yogyakarta",
             "/anomaly-monitor/yogyakarta", "/drift-monitor/yogyakarta", "/latency-monitor",
             "/metrics"]
OPEN_PATHS = ["/health", "/ready", "/openapi.json", "/docs/"]


@pytest.fixture
def secured(make_app):
    return make_app(ops_token=TOKEN).test_client()


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer wrong-token-0123456789",
                                    f"Basic {TOKEN}", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}",
                                    "Bearer \u00e9\u00e9\u00e9"])
def test_ops_routes_refuse_a_missing_or_wrong_token(secured, header):
    headers = {} if header is None else {"Authorization": header}
    for path in OPS_PATHS:
        response = secured.get(path, headers=headers)
        error = assert_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].replace('"', '') == "Bearer realm=kosprice"
        assert TOKEN not in response.get_data(as_text=True)
        assert error["details"] == {}


def test_ops_routes_answer_with_the_token(secured):
    for path in OPS_PATHS:
        for scheme in ("Bearer", "bearer"):
            response = secured.get(path, headers={"Authorization": f"{scheme} {TOKEN}"})
            assert response.status_code == 200, (path, response.get_data(as_text=True)[:300])


@pytest.mark.parametrize("path", OPEN_PATHS)
def test_client_routes_stay_open(secured, path):
    assert secured.get(path).status_code == 200


def test_predictions_stay_open(secured, listing):
    assert secured.post("/predict/yogyakarta", json=listing).status_code == 200


def test_without_a_token_setting_nothing_is_protected(client):
    for path in OPS_PATHS:
        assert client.get(path).status_code == 200, path


def test_an_unknown_route_is_still_a_404(secured):
    assert_error(secured.get("/models/yogyakarta/extra"), 404, "not_found")


def test_bearer_token_parsing():
    assert bearer_token(f"Bearer {TOKEN}") == TOKEN.encode()
    assert bearer_token(f"bearer   {TOKEN}  ") == TOKEN.encode()
    assert bearer_token(f"Token {TOKEN}") == b""
    assert bearer_token(None) == b""
