"""Structured logs: one canonical JSON line per prediction; tracebacks in error.log only."""

from __future__ import annotations

import pytest


@pytest.fixture
def logged_client(log_files, make_app):
    """A client of an app whose logs go to JSON files (configured before the app, as in prod)."""
    app = make_app()

    @app.get("/test-only/boom")
    def boom():
        raise RuntimeError("secret internals")

    return app.test_client()


def test_one_canonical_line_per_prediction(logged_client, log_files, listing):
    response = logged_client.post("/predict/jakarta_pusat", json=listing,
                                  headers={"X-Request-ID": "canonical-1"})
    assert response.status_code == 200
    lines = log_files.events("prediction")
    assert len(lines) == 1
    line = lines[0]
    assert line["request_id"] == "canonical-1"
    assert line["region"] == "jakarta_pusat"
    assert line["model_version"] == "v1.0.0"
    assert line["status"] == 200
    assert line["predicted_price"] == response.get_json()["predicted_price"]
    assert isinstance(line["latency_ms"], float) and 0 <= line["latency_ms"] < 10_000
    assert line["level"] == "info"
    assert line["timestamp"].endswith("Z")


def test_failed_predictions_are_logged_too(logged_client, log_files, listing):
    logged_client.post("/predict/yogyakarta", json={**listing, "luas_kamar": 0},
                       headers={"X-Request-ID": "bad-listing"})
    logged_client.post("/predict/bali", json=listing, headers={"X-Request-ID": "bad-region"})
    lines = {line["request_id"]: line for line in log_files.events("prediction")}
    assert lines["bad-listing"]["status"] == 422
    assert lines["bad-listing"]["model_version"] == "v1.0.0"
    assert lines["bad-listing"]["predicted_price"] is None
    assert lines["bad-region"]["status"] == 404
    assert lines["bad-region"]["model_version"] is None
    # A 4xx line names the error and the invalid fields, never what was sent in them.
    assert lines["bad-listing"]["error_code"] == "validation_error"
    assert lines["bad-listing"]["invalid_fields"] == ["luas_kamar"]
    assert lines["bad-region"]["error_code"] == "unknown_region"
    logged_client.post("/predict/yogyakarta", json={**listing, "tipe_kos": "secret-value-42"},
                       headers={"X-Request-ID": "bad-type"})
    line = next(x for x in log_files.events("prediction") if x["request_id"] == "bad-type")
    assert line["invalid_fields"] == ["tipe_kos"] and "secret-value-42" not in log_files.text()


def test_every_line_is_json_and_non_prediction_routes_have_no_canonical_line(
        logged_client, log_files):
    logged_client.get("/health")
    logged_client.get("/models")
    assert log_files.events("prediction") == []
    assert all(isinstance(record, dict) for record in log_files.records())


def test_the_traceback_goes_to_error_log_and_not_to_the_client(logged_client, log_files):
    response = logged_client.get("/test-only/boom", headers={"X-Request-ID": "boom-1"})
    assert response.status_code == 500
    assert "secret" not in response.get_data(as_text=True)

    errors = [r for r in log_files.records("error.log") if r["request_id"] == "boom-1"]
    assert len(errors) == 1
    assert errors[0]["level"] == "error"
    assert "Traceback (most recent call last)" in errors[0]["exception"]
    assert "RuntimeError: secret internals" in errors[0]["exception"]
    # The full log has it too; error.log has nothing below ERROR.
    assert "secret internals" in log_files.text()
    assert all(r["level"] in ("error", "critical") for r in log_files.records("error.log"))


def test_a_successful_prediction_writes_nothing_to_error_log(logged_client, log_files, listing):
    logged_client.post("/predict/yogyakarta", json=listing)
    assert log_files.events("prediction")
    assert log_files.text("error.log") == ""


def test_no_request_bodies_or_auth_headers_in_logs(logged_client, log_files, listing):
    secret_listing = {**listing, "luas_kamar": 37.123, "jarak_ke_bca": 13.579}
    headers = {"Authorization": "Bearer s3cr3t-t0ken", "Cookie": "session=c00kie-value"}
    assert logged_client.post("/predict/yogyakarta", json=secret_listing,
                              headers=headers).status_code == 200
    logged_client.post("/predict/yogyakarta", headers=headers,
                       json={**secret_listing, "nama_pemilik": "Ibu Rahasia"})
    logged_client.post("/predict/yogyakarta", headers=headers,
                       data='{"luas_kamar": 37.123, "catatan": "Ibu Rahasia",',
                       content_type="application/json")
    text = log_files.text() + log_files.text("error.log")
    assert len(log_files.events("prediction")) == 3
    for leaked in ("37.123", "13.579", "s3cr3t", "c00kie", "Rahasia", "Bearer"):
        assert leaked not in text
