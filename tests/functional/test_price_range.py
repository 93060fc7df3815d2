"""POST /predict: price_range, warnings, never a price <= 0, and the fair-price verdict."""

from __future__ import annotations

import pytest

from tests.factories import edit_metadata

FAR = {"luas_kamar": 1, "jarak_ke_bca": 50, "tipe_kos": "putra", "is_km_dalam": 0,
       "is_water_heater": 0, "is_furnished": 0, "is_listrik_free": 0, "is_parkir_mobil": 0,
       "is_mesin_cuci": 0}
"""Valid, but far outside the synthetic training rows (0.1-8 km, 4-40 m²)."""


def predict(client, body, region="yogyakarta"):
    response = client.post(f"/predict/{region}", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_the_default_range_is_80_percent_and_wider_levels_are_wider(client, listing):
    default = predict(client, listing)
    assert default["price_range"]["level"] == 0.8
    wide = predict(client, {**listing, "interval_level": 0.95})
    narrow = predict(client, {**listing, "interval_level": 0.5})
    assert wide["predicted_price"] == default["predicted_price"] == narrow["predicted_price"]
    assert (wide["price_range"]["low"] <= default["price_range"]["low"]
            <= narrow["price_range"]["low"] < narrow["predicted_price"]
            < narrow["price_range"]["high"] <= default["price_range"]["high"]
            <= wide["price_range"]["high"])


@pytest.mark.parametrize("level", [0.75, 1, 0, "0.8", None])
def test_only_the_calibrated_levels_may_be_asked_for(client, listing, level):
    response = client.post("/predict/yogyakarta", json={**listing, "interval_level": level})
    assert response.status_code == 422
    assert "interval_level" in response.get_json()["error"]["details"]["fields"]


def test_a_listing_far_outside_the_training_data_never_gets_a_price_of_zero_or_less(client):
    # The test models are raw-target Ridges: this listing's raw price is negative.
    body = predict(client, FAR)
    assert body["predicted_price"] > 0 and body["price_range"]["low"] > 0
    codes = {(w["code"], w.get("feature")) for w in body["warnings"]}
    assert ("outside_training_range", "jarak_ke_bca") in codes
    assert ("outside_training_range", "luas_kamar") in codes
    assert ("price_clamped", None) in codes


@pytest.mark.parametrize(("factor", "label"), [(0.5, "underpriced"), (1.0, "fair"),
                                               (2.0, "overpriced")])
def test_an_offered_price_gets_a_verdict(client, listing, factor, label):
    price = predict(client, listing)["predicted_price"]
    body = predict(client, {**listing, "harga_tawaran": price * factor})
    assert body["verdict"] == {"label": label, "harga_tawaran": price * factor,
                               "difference_pct": pytest.approx((factor - 1) * 100, abs=0.2)}
    assert "verdict" not in predict(client, listing)


@pytest.mark.parametrize("offer", [0, -1_000_000, "1500000", 2_000_000_000])
def test_an_offered_price_must_be_a_positive_number(client, listing, offer):
    response = client.post("/predict/yogyakarta", json={**listing, "harga_tawaran": offer})
    assert response.status_code == 422
    assert "harga_tawaran" in response.get_json()["error"]["details"]["fields"]


def test_a_version_without_calibrated_intervals_says_so(models_dir, make_app, listing):
    edit_metadata(models_dir / "yogyakarta" / "v1.0.0", intervals=..., training_ranges=...)
    client = make_app().test_client()
    body = predict(client, {**listing, "harga_tawaran": 1_000_000})
    assert body["price_range"] is None
    assert [w["code"] for w in body["warnings"]] == ["interval_unavailable"]
    assert body["verdict"]["label"] is None and body["predicted_price"] > 0


def test_batch_items_get_the_same_range_warnings_and_verdict(client, listing):
    single = predict(client, {**listing, "harga_tawaran": 5_000_000})
    response = client.post("/predict/yogyakarta/batch", json={"listings": [
        {**listing, "harga_tawaran": 5_000_000}, FAR, {**listing, "interval_level": 0.7}]})
    assert response.status_code == 200, response.get_data(as_text=True)
    first, far, bad = response.get_json()["results"]
    assert {k: first[k] for k in ("predicted_price", "price_range", "warnings", "verdict")} \
        == {k: single[k] for k in ("predicted_price", "price_range", "warnings", "verdict")}
    assert far["predicted_price"] > 0 and "price_clamped" in {w["code"] for w in far["warnings"]}
    assert "interval_level" in bad["error"]["details"]["fields"]
