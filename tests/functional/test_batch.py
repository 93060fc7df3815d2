"""POST /predict/{region}/batch: order, per-item errors, limits, one store call per batch."""

from __future__ import annotations

import json

import pytest
import redis

from kosprice.monitoring.redis_store import RedisStore
from tests.factories import LISTING
from tests.monitoring.conftest import throwaway_redis  # noqa: F401, F811  (a fixture)


def variants(n: int) -> list[dict]:
    return [{**LISTING, "luas_kamar": 6.0 + i % 90, "jarak_ke_bca": i % 400 / 10,
             "tipe_kos": ("putra", "putri", "campur")[i % 3], "is_furnished": i % 2}
            for i in range(n)]


def test_results_come_in_order_and_equal_single_predictions(client):
    listings = variants(7)
    response = client.post("/predict/jakarta_pusat/batch", json={"listings": listings})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert list(body) == ["region", "model_version", "request_id", "count", "predicted",
                          "rejected", "results"]
    assert (body["count"], body["predicted"], body["rejected"]) == (7, 7, 0)
    assert [r["index"] for r in body["results"]] == list(range(7))
    singles = [client.post("/predict/jakarta_pusat", json=item).get_json()["predicted_price"]
               for item in listings]
    assert [r["predicted_price"] for r in body["results"]] == singles


def test_invalid_items_carry_their_errors_and_the_others_are_priced(client):
    items = [LISTING, {**LISTING, "luas_kamar": 0}, LISTING, {**LISTING, "sauna": 1},
             "not a listing", {k: v for k, v in LISTING.items() if k != "tipe_kos"},
             {**LISTING, "is_km_dalam": True}]
    body = client.post("/predict/yogyakarta/batch", json={"listings": items}).get_json()
    assert (body["count"], body["predicted"], body["rejected"]) == (7, 3, 4)
    results = body["results"]
    assert [("predicted_price" in r, "error" in r) for r in results] == [
        (True, False), (False, True), (True, False), (False, True), (False, True),
        (False, True), (True, False)]
    assert results[0]["predicted_price"] == results[2]["predicted_price"]
    errors = {r["index"]: r["error"] for r in results if "error" in r}
    assert all(e["code"] == "validation_error" for e in errors.values())
    assert list(errors[1]["details"]["fields"]) == ["luas_kamar"]
    assert errors[3]["details"]["fields"] == {"sauna": ["Unknown field."]}
    assert "_schema" in errors[4]["details"]["fields"]
    assert list(errors[5]["details"]["fields"]) == ["tipe_kos"]
    single = client.post("/predict/yogyakarta", json={**LISTING, "luas_kamar": 0})
    assert single.get_json()["error"]["details"]["fields"] == errors[1]["details"]["fields"]


@pytest.mark.parametrize("body, problem", [
    ({}, "_schema"), ([LISTING], "_schema"), ({"listings": LISTING}, "listings"),
    ({"listings": []}, "listings"), ({"listings": [LISTING], "extra": 1}, "_schema")])
def test_a_body_that_is_not_a_list_of_listings_is_refused(client, body, problem):
    response = client.post("/predict/yogyakarta/batch", json=body)
    assert response.status_code == 422
    assert list(response.get_json()["error"]["details"]["fields"]) == [problem]


def test_more_items_than_the_limit_is_413_naming_it(make_app):
    client = make_app(batch_max_items=3).test_client()
    assert client.post("/predict/yogyakarta/batch",
                       json={"listings": variants(3)}).status_code == 200
    response = client.post("/predict/yogyakarta/batch", json={"listings": variants(4)})
    assert response.status_code == 413
    error = response.get_json()["error"]
    assert error["code"] == "batch_too_large"
    assert error["details"] == {"max_items": 3, "items": 4}
    assert "at most 3" in error["message"]


def test_the_batch_body_limit_is_its_own(make_app):
    listings = variants(1000)
    size = len(json.dumps({"listings": listings}))
    client = make_app(max_content_length=16 * 1024, batch_max_content_length=size + 100,
                      ).test_client()
    response = client.post("/predict/yogyakarta/batch", json={"listings": listings})
    assert response.status_code == 200 and response.get_json()["predicted"] == 1000
    small = make_app(batch_max_content_length=size // 2).test_client()
    response = small.post("/predict/yogyakarta/batch", json={"listings": listings})
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"
    too_big_single = {**LISTING, "pad": "x" * (20 * 1024)}
    assert client.post("/predict/yogyakarta", json=too_big_single).status_code == 413


def test_a_batch_is_one_request_and_its_predictions_in_the_monitors(client, log_files):
    items = [*variants(4), {**LISTING, "luas_kamar": -1}]
    client.post("/predict/jakarta_utara/batch", json={"listings": items})
    predictions = client.get("/prediction-monitor/jakarta_utara").get_json()
    assert predictions["count"] == 4 and predictions["window"]["count"] == 4
    latency = client.get("/latency-monitor").get_json()["regions"]["jakarta_utara"]
    assert latency["requests"] == 1 and latency["errors"] == 0
    [line] = log_files.events("prediction_batch")
    assert (line["items"], line["predicted"], line["rejected"]) == (5, 4, 1)
    assert line["region"] == "jakarta_utara" and line["status"] == 200


def test_one_sqlite_transaction_per_batch(app):
    store = app.extensions["kosprice"].monitor.store
    client = app.test_client()
    client.post("/predict/yogyakarta/batch", json={"listings": variants(2)})  # warm up
    statements: list[str] = []
    store.db.set_trace_callback(statements.append)
    client.post("/predict/yogyakarta/batch", json={"listings": variants(300)})
    store.db.set_trace_callback(None)
    assert sum(s.startswith("BEGIN") for s in statements) == 1


def test_one_redis_round_trip_per_batch(settings, make_app, throwaway_redis,  # noqa: F811
                                        monkeypatch):
    """On a Redis of this test's own: one command leaves the client, one EVALSHA arrives."""
    url = f"redis://{throwaway_redis.host}:{throwaway_redis.port}/0"
    client = make_app(redis_url=url).test_client()
    client.post("/predict/yogyakarta/batch", json={"listings": variants(2)})  # loads the script
    server = redis.Redis.from_url(url)
    sent = []
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(connection, command, *args, **kwargs):
        sent.append(command)
        return original(connection, command, *args, **kwargs)

    def evalsha_calls() -> int:
        return server.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)

    before = evalsha_calls()
    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    client.post("/predict/yogyakarta/batch", json={"listings": variants(500)})
    monkeypatch.undo()
    assert len(sent) == 1
    assert evalsha_calls() - before == 1
    state = RedisStore(url, settings.store_prefix, 10, 5, 1.0).read("yogyakarta")
    assert state.predictions == 502 and state.requests == 2


def test_items_with_and_without_options_answer_as_single_requests(client):
    listings = variants(12)
    for i in (1, 4, 7):
        listings[i] = {**listings[i], "interval_level": 0.95}
    for i in (2, 4, 9):
        listings[i] = {**listings[i], "harga_tawaran": 900_000 + 100_000 * i}
    listings[5] = {**listings[5], "luas_kamar": 99.0, "jarak_ke_bca": 49.0}
    body = client.post("/predict/jakarta_selatan/batch", json={"listings": listings}).get_json()
    for item, listing in zip(body["results"], listings, strict=True):
        single = client.post("/predict/jakarta_selatan", json=listing).get_json()
        for key in ("region", "model_version", "request_id"):
            single.pop(key)
        assert item == {"index": item["index"], **single}
