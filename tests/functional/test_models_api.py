"""Health, readiness and the model descriptions: facts, never file-system paths."""

from __future__ import annotations

from kosprice.features import INPUT_FEATURES, REGIONS
from tests.factories import copy_version


def test_health(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_ready_lists_the_loaded_models(client):
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready",
                                   "models": {region: "v1.0.0" for region in REGIONS}}


def test_models_lists_serving_and_on_disk_versions(models_dir, make_app):
    for name in ("v1.9.0", "v1.10.0"):
        copy_version(models_dir, "yogyakarta", name)
    response = make_app().test_client().get("/models")
    assert response.status_code == 200
    regions = response.get_json()["regions"]
    assert sorted(regions) == list(REGIONS)
    assert regions["yogyakarta"] == {"serving_version": "v1.10.0",
                                     "versions_on_disk": ["v1.0.0", "v1.9.0", "v1.10.0"]}
    assert regions["jakarta_utara"] == {"serving_version": "v1.0.0",
                                        "versions_on_disk": ["v1.0.0"]}
    assert str(models_dir) not in response.get_data(as_text=True)


def test_model_description(client, models_dir):
    response = client.get("/models/jakarta_selatan")
    assert response.status_code == 200
    body = response.get_json()
    assert body["region"] == "jakarta_selatan"
    assert body["model_version"] == "v1.0.0"
    assert body["model_type"] == "Ridge"
    assert body["params"]["alpha"] == 1.0
    assert set(body["metrics"]) == {"r2", "mae", "rmse", "mape"}
    # What the client sends, apart from what the server derives (sending it is a 422).
    assert "amenities_count" not in body["inputs"]
    assert body["derived_features"] == ["amenities_count"]
    assert set(body["inputs"]) <= set(INPUT_FEATURES) and "luas_kamar" in body["inputs"]
    assert body["trained_at"]
    assert body["versions_on_disk"] == ["v1.0.0"]


def test_no_file_system_paths_in_any_description(client, models_dir):
    for path in ("/models", "/ready", *(f"/models/{region}" for region in REGIONS)):
        text = client.get(path).get_data(as_text=True)
        assert str(models_dir) not in text
        assert str(models_dir.parent) not in text
        assert "model.pkl" not in text and "metadata.json" not in text
        assert ".csv" not in text
