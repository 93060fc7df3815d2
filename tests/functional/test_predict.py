"""POST /predict/{region}: the success shape and the listing's validation."""

from __future__ import annotations

import json
import math
import uuid

import pytest

from kosprice.features import INPUT_FEATURES, REGIONS
from tests.factories import build_models, synthetic_rows, titled_rows, train_version, write_csv


def fields_of(response) -> dict:
    assert response.status_code == 422, response.get_data(as_text=True)
    body = response.get_json()["error"]
    assert body["code"] == "validation_error"
    return body["details"]["fields"]


@pytest.mark.parametrize("region", REGIONS)
def test_prediction_shape(client, listing, region):
    response = client.post(f"/predict/{region}", json=listing)
    assert response.status_code == 200
    body = response.get_json()
    assert list(body) == ["region", "predicted_price", "price_range", "warnings",
                          "model_version", "request_id"]
    assert body["region"] == region
    assert body["model_version"] == "v1.0.0"
    price = body["predicted_price"]
    assert isinstance(price, int) and price > 0 and price % 1000 == 0  # Rp 1,000 units
    assert body["price_range"]["low"] < price < body["price_range"]["high"]
    assert body["warnings"] == []
    assert uuid.UUID(body["request_id"]).version == 4
    assert response.headers["X-Request-ID"] == body["request_id"]


def test_prediction_follows_the_inputs(client, listing):
    small = client.post("/predict/yogyakarta", json={**listing, "luas_kamar": 6}).get_json()
    large = client.post("/predict/yogyakarta", json={**listing, "luas_kamar": 36}).get_json()
    # The synthetic price rises 60,000 Rp per m²; a Ridge model learns roughly that.
    assert 1_000_000 < large["predicted_price"] - small["predicted_price"] < 2_600_000


def test_every_missing_required_feature_is_reported(client):
    fields = fields_of(client.post("/predict/jakarta_pusat", json={}))
    # is_ac and is_internet are constant in the training data, so not model features.
    required = [f for f in INPUT_FEATURES if f not in ("is_ac", "is_internet")]
    assert fields == {name: ["Missing data for required field."] for name in required}


def test_one_missing_feature_is_not_filled_with_a_default(client, listing):
    del listing["jarak_ke_bca"]
    assert fields_of(client.post("/predict/jakarta_selatan", json=listing)) == {
        "jarak_ke_bca": ["Missing data for required field."]}


def test_known_features_the_model_does_not_use_may_be_omitted_or_sent(client, listing):
    for unused in ("is_ac", "is_internet"):
        del listing[unused]
    assert client.post("/predict/yogyakarta", json=listing).status_code == 200
    with_them = {**listing, "is_ac": 0, "is_internet": 1}
    assert client.post("/predict/yogyakarta", json=with_them).status_code == 200


@pytest.fixture
def client_without_mesin_cuci(models_dir, tmp_path, make_app):
    """Serve a yogyakarta v1.1.0 trained on data whose is_mesin_cuci never varies."""
    rows = synthetic_rows(seed=11)
    for row in rows:
        row["is_mesin_cuci"] = 0
    data = write_csv(tmp_path / "no-mesin-cuci.csv", rows)
    train_version(models_dir, "yogyakarta", data, version="v1.1.0")
    return make_app().test_client()


def test_a_feature_the_model_does_not_use_is_accepted_and_ignored(client_without_mesin_cuci,
                                                                   listing):
    client = client_without_mesin_cuci
    described = client.get("/models/yogyakarta").get_json()
    assert described["model_version"] == "v1.1.0"
    assert "is_mesin_cuci" not in described["inputs"]

    del listing["is_mesin_cuci"]
    without = client.post("/predict/yogyakarta", json=listing)
    assert without.status_code == 200
    prices = {client.post("/predict/yogyakarta", json={**listing, "is_mesin_cuci": flag})
              .get_json()["predicted_price"] for flag in (0, 1)}
    assert prices == {without.get_json()["predicted_price"]}
    # Still validated as a catalogue feature, even though unused.
    assert fields_of(client.post("/predict/yogyakarta", json={**listing, "is_mesin_cuci": 3})) \
        == {"is_mesin_cuci": ["Must be 0 or 1."]}


@pytest.mark.parametrize("extra", ["harga", "amenities_count", "is_kolam_renang"])
def test_unknown_fields_are_refused(client, listing, extra):
    assert fields_of(client.post("/predict/yogyakarta", json={**listing, extra: 1})) == {
        extra: ["Unknown field."]}


def test_a_title_is_accepted_and_ignored_by_a_model_that_does_not_read_it(client, listing):
    plain = client.post("/predict/yogyakarta", json=listing).get_json()
    titled = client.post("/predict/yogyakarta", json={**listing, "nama_kos": "Kost Apik"})
    assert titled.status_code == 200
    assert titled.get_json()["predicted_price"] == plain["predicted_price"]
    assert titled.get_json()["warnings"] == plain["warnings"] == []


@pytest.mark.parametrize("value", ["12", "12.5", True, False, None, [12], {"m2": 12}])
def test_numbers_must_be_json_numbers(client, listing, value):
    fields = fields_of(client.post("/predict/yogyakarta", json={**listing, "luas_kamar": value}))
    assert list(fields) == ["luas_kamar"]


@pytest.mark.parametrize("value", [2, -1, 0.5, 1.0, "1", "yes", None])
def test_flags_must_be_0_or_1(client, listing, value):
    fields = fields_of(client.post("/predict/yogyakarta", json={**listing, "is_km_dalam": value}))
    assert list(fields) == ["is_km_dalam"]


@pytest.mark.parametrize("value", [0, 1])
def test_flags_accept_0_and_1(client, listing, value):
    assert client.post("/predict/yogyakarta",
                       json={**listing, "is_km_dalam": value}).status_code == 200


@pytest.mark.parametrize(("name", "value", "accepted"), [
    ("luas_kamar", 0, False),
    ("luas_kamar", 0.999, False),      # training clips below 1 m²: never served either
    ("luas_kamar", 1, True),
    ("luas_kamar", 100, True),
    ("luas_kamar", 100.1, False),
    ("luas_kamar", -5, False),
    ("jarak_ke_bca", 0, True),
    ("jarak_ke_bca", 50, True),
    ("jarak_ke_bca", 50.001, False),
    ("jarak_ke_bca", -0.5, False),
])
def test_bounds(client, listing, name, value, accepted):
    response = client.post("/predict/jakarta_utara", json={**listing, name: value})
    if accepted:
        assert response.status_code == 200
    else:
        assert list(fields_of(response)) == [name]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused(client, listing, value):
    # Python's JSON parser reads the non-standard NaN and Infinity tokens json.dumps writes.
    response = client.post("/predict/yogyakarta", content_type="application/json",
                           data=json.dumps({**listing, "jarak_ke_bca": value}))
    assert list(fields_of(response)) == ["jarak_ke_bca"]


@pytest.mark.parametrize("value", ["putra", "putri", "campur"])
def test_tipe_kos_choices(client, listing, value):
    response = client.post("/predict/yogyakarta", json={**listing, "tipe_kos": value})
    assert response.status_code == 200


@pytest.mark.parametrize("value", ["Putra", "pria", "", 1, None])
def test_tipe_kos_outside_the_choices(client, listing, value):
    fields = fields_of(client.post("/predict/yogyakarta", json={**listing, "tipe_kos": value}))
    assert list(fields) == ["tipe_kos"]


def test_every_invalid_field_is_reported_at_once(client, listing):
    body = {**listing, "luas_kamar": 0, "jarak_ke_bca": "dekat", "tipe_kos": "pria",
            "is_furnished": 2, "kolam": 1}
    del body["is_km_dalam"]
    assert set(fields_of(client.post("/predict/yogyakarta", json=body))) == {
        "luas_kamar", "jarak_ke_bca", "tipe_kos", "is_furnished", "kolam", "is_km_dalam"}


@pytest.mark.parametrize("body", [[], [{"luas_kamar": 12}], "listing", 12])
def test_the_body_must_be_a_json_object(client, body):
    assert fields_of(client.post("/predict/yogyakarta", json=body)) == {
        "_schema": ["The body must be a JSON object."]}


def test_a_newer_version_serves_once_present(models_dir, tmp_path, make_app, listing):
    build_models(models_dir, tmp_path, regions=("jakarta_pusat",), version="v1.10.0")
    build_models(models_dir, tmp_path, regions=("jakarta_pusat",), version="v1.9.0")
    body = make_app().test_client().post("/predict/jakarta_pusat", json=listing).get_json()
    assert body["model_version"] == "v1.10.0"


@pytest.mark.parametrize(("field", "sent", "message"), [
    ("luas_kamar", "12", "Expected a JSON number, got a string."),
    ("luas_kamar", True, "Expected a JSON number, got true/false."),
    ("jarak_ke_bca", [1.5], "Expected a JSON number, got an array."),
    ("is_furnished", "1", "Expected 0 or 1 as a JSON number (or true/false), got a string."),
    ("is_furnished", {"v": 1}, "Expected 0 or 1 as a JSON number (or true/false), "
                               "got an object."),
    ("is_furnished", 2, "Must be 0 or 1."),
    ("tipe_kos", 3, "Expected a JSON string, got a number."),
])
def test_validation_messages_say_what_type_was_sent(client, listing, field, sent, message):
    assert fields_of(client.post("/predict/yogyakarta", json={**listing, field: sent})) == {
        field: [message]}


@pytest.fixture
def client_with_titles(models_dir, tmp_path, make_app):
    """Serve a yogyakarta v1.1.0 that reads the listing title (and its title-less twin)."""
    data = write_csv(tmp_path / "titled.csv", titled_rows())
    train_version(models_dir, "yogyakarta", data, version="v1.1.0",
                  estimator="ridge_log_title")
    return make_app().test_client()


def test_the_title_is_optional_and_read_when_sent(client_with_titles, listing):
    client = client_with_titles
    described = client.get("/models/yogyakarta").get_json()
    assert described["optional_inputs"] == ["nama_kos"] and "nama_kos" not in described["inputs"]
    assert described["metrics_without_title"]["mae"] > described["metrics"]["mae"]
    assert described["inference"]["engine"] == "fast"

    def post(**title):
        response = client.post("/predict/yogyakarta", json={**listing, **title})
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    plain, premium = post(nama_kos="Kost Apik Tipe A"), post(nama_kos="Kost Apik Eksklusif")
    assert premium["predicted_price"] > plain["predicted_price"]
    assert plain["warnings"] == premium["warnings"] == []
    for untitled in (post(), post(nama_kos=""), post(nama_kos="   ")):
        assert [w["code"] for w in untitled["warnings"]] == ["title_missing"]
        assert untitled["price_range"] == post()["price_range"]
    batch = client.post("/predict/yogyakarta/batch", json={"listings": [
        {**listing, "nama_kos": "Kost Apik Eksklusif"}, listing]}).get_json()["results"]
    assert [r["predicted_price"] for r in batch] == [premium["predicted_price"],
                                                     post()["predicted_price"]]
    assert fields_of(client.post("/predict/yogyakarta", json={**listing, "nama_kos": 7})) == {
        "nama_kos": ["Expected a JSON string, got a number."]}
    assert fields_of(client.post("/predict/yogyakarta", json={**listing,
                                                              "nama_kos": "x" * 201})) == {
        "nama_kos": ["Longer than maximum length 200."]}


def test_warnings_are_counted_by_code_in_prometheus(client_with_titles, listing):
    client = client_with_titles
    client.post("/predict/yogyakarta", json=listing)  # no title: title_missing
    client.post("/predict/yogyakarta", json={**listing, "nama_kos": "Kost Apik",
                                             "jarak_ke_bca": 45})  # outside the training range
    client.post("/predict/yogyakarta/batch", json={"listings": [listing, listing]})
    metrics = client.get("/metrics").get_data(as_text=True)
    counted = {line.split("code=")[1].split('"')[1]: float(line.split()[-1])
               for line in metrics.splitlines()
               if line.startswith("kosprice_prediction_warnings_total{")}
    assert counted["title_missing"] == 3 and counted["outside_training_range"] == 1
    # 45 km also takes this Ridge's price below the training prices: clamped, and counted.
    assert set(counted) <= {"title_missing", "outside_training_range", "price_clamped"}
