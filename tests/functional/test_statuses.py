"""Every HTTP error Werkzeug knows answers in the one envelope, with its own status."""

from __future__ import annotations

import pytest
from flask import abort
from werkzeug.exceptions import default_exceptions

from tests.scrape import metric_total

STATUSES = sorted(code for code in default_exceptions if code >= 400)


@pytest.fixture
def aborting_client(app):
    @app.get("/test-only/abort/<int:status>")
    def aborting(status: int):
        abort(status)

    return app.test_client()


@pytest.mark.parametrize("status", STATUSES)
def test_every_error_status_has_the_envelope(aborting_client, status):
    response = aborting_client.get(f"/test-only/abort/{status}")
    assert response.status_code == status
    error = response.json["error"]
    assert set(error) == {"code", "message", "details", "request_id"}
    assert error["request_id"] == response.headers["X-Request-ID"]
    if status >= 500:
        assert error["message"] == "The server encountered an internal error."


def test_made_up_methods_get_a_405_but_no_metric_series(client):
    client.get("/health")
    response = client.open("/predict/yogyakarta", method="FOOBAR")
    assert response.status_code == 405
    assert response.json["error"]["code"] == "method_not_allowed"
    metrics = client.get("/metrics").text
    assert "FOOBAR" not in metrics
    assert metric_total(metrics, "flask_http_request_total", method="GET") >= 1


def test_bogus_paths_share_one_series(client):
    for path in ("/nope", "/predict/atlantis/extra", "/x" * 20):
        assert client.get(path).status_code == 404
    metrics = client.get("/metrics").text
    assert "/nope" not in metrics and "atlantis" not in metrics
    assert metric_total(metrics, "flask_http_request_duration_seconds_count",
                        path="<unmatched>", status="404") == 3
