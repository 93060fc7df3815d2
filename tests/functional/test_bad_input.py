"""The bad-input catalogue: each hostile body, header or path gets the right 4xx in the
envelope, a bounded answer, and leaves only whole JSON objects in the log, one per line."""

from __future__ import annotations

import json

import pytest

from tests.factories import LISTING
from tests.functional.test_errors import assert_error

MAX_ERROR_BYTES = 4096
"""No error answer is bigger than this, whatever the request."""


def with_field(name: str, raw_value: str) -> bytes:
    """The valid listing with one field's JSON text replaced by `raw_value` (may be invalid)."""
    fields = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in LISTING.items() if k != name]
    return ("{" + ", ".join([*fields, f"{json.dumps(name)}: {raw_value}"]) + "}").encode()


JSON = "application/json"

MALFORMED = {  # 400 malformed_request: not JSON the service reads
    "truncated JSON": b'{"luas_kamar": 12,',
    "single quotes": b"{'luas_kamar': 12}",
    "bare word": b"nul",
    "empty body": b"",
    "invalid UTF-8": with_field("tipe_kos", '"put\xffri"').replace(b"\xc3\xbf", b"\xff"),
    "nested 1,000 deep": b"[" * 1000 + b"]" * 1000,
    "object nested 1,000 deep": b'{"a":' * 1000 + b"1" + b"}" * 1000,
    "5,000-digit integer": with_field("luas_kamar", "9" * 5000),
}

INVALID = {  # 422 validation_error: JSON, but not a listing
    "number as a string": with_field("luas_kamar", '"12"'),
    "category as a number": with_field("tipe_kos", "1"),
    "flag as a string": with_field("is_km_dalam", '"1"'),
    "flag 0.5": with_field("is_km_dalam", "0.5"),
    "NaN": with_field("luas_kamar", "NaN"),
    "Infinity": with_field("luas_kamar", "Infinity"),
    "-Infinity": with_field("jarak_ke_bca", "-Infinity"),
    "1e309": with_field("luas_kamar", "1e309"),
    "negative size": with_field("luas_kamar", "-12"),
    "negative distance": with_field("jarak_ke_bca", "-0.1"),
    "boolean as a number": with_field("luas_kamar", "true"),
    "null": with_field("luas_kamar", "null"),
    "huge string": with_field("tipe_kos", json.dumps("x" * 15_000)),
    "nested object": with_field("luas_kamar", '{"value": 12}'),
    "array value": with_field("luas_kamar", "[12]"),
    "array body": json.dumps([LISTING]).encode(),
    "string body": b'"listing"',
    "unknown field": with_field("harga", "1000000"),
    "1,500 unknown keys": json.dumps({**LISTING, **{f"{i:x}": 0 for i in range(1500)}},
                                     separators=(",", ":")).encode(),
    "a 10 kB key": with_field("k" * 10_000, "1"),
    "zero-width space": with_field("tipe_kos", '"putri\\u200b"'),
    "right-to-left override key": with_field("\u202eluas_kamar", "12"),
    "lone surrogate": with_field("tipe_kos", '"\\ud800"'),
    "NUL in a key": with_field("luas_kamar\u0000", "12"),
    "emoji": with_field("tipe_kos", '"\U0001f3e0"'),
}

NOT_JSON = {  # 415 unsupported_media_type: (body, content type)
    "form body": (b"luas_kamar=12", "application/x-www-form-urlencoded"),
    "text/plain JSON": (json.dumps(LISTING).encode(), "text/plain"),
    "no content type": (json.dumps(LISTING).encode(), None),
}

CATALOGUE = {  # name: (body bytes, content type, status, code)
    **{name: (body, JSON, 400, "malformed_request") for name, body in MALFORMED.items()},
    **{name: (body, JSON, 422, "validation_error") for name, body in INVALID.items()},
    **{name: (body, content_type, 415, "unsupported_media_type")
       for name, (body, content_type) in NOT_JSON.items()},
    "oversized": (json.dumps({**LISTING, "x": "y" * 20_000}).encode(), JSON, 413,
                  "payload_too_large"),
}


@pytest.fixture
def logged_client(log_files, make_app):
    return make_app().test_client()


def assert_log_is_json_lines(log_files) -> None:
    text = log_files.text()  # may be empty: a request refused before any view logs nothing
    assert not text or text.endswith("\n")
    for line in text.splitlines():
        record = json.loads(line)  # exactly one JSON object per line
        assert isinstance(record, dict)
        assert len(line) < 2048, "a log line grew with the request"


@pytest.mark.parametrize("case", list(CATALOGUE))
def test_bad_bodies_get_the_right_4xx(logged_client, log_files, case):
    body, content_type, status, code = CATALOGUE[case]
    headers = {"Content-Type": content_type} if content_type else {}
    response = logged_client.post("/predict/yogyakarta", data=body, headers=headers)
    assert_error(response, status, code)
    assert len(response.get_data()) < MAX_ERROR_BYTES
    assert_log_is_json_lines(log_files)


def test_a_422_names_at_most_20_fields_and_says_how_many_it_left_out(client):
    body = CATALOGUE["1,500 unknown keys"][0]
    assert len(body) < 16_384
    error = assert_error(client.post("/predict/yogyakarta", data=body,
                                     content_type="application/json"), 422, "validation_error")
    assert len(error["details"]["fields"]) == 20
    assert error["details"]["truncated"] == 1480


def test_a_long_field_name_is_cut_in_the_answer(client):
    body = {**LISTING, "k" * 10_000: 1}
    error = assert_error(client.post("/predict/yogyakarta", json=body), 422, "validation_error")
    (name,) = error["details"]["fields"]
    assert len(name) <= 65 and name.startswith("kkk")


@pytest.mark.parametrize("path", [
    "/predict/..%2fmodels", "/predict/yogyakarta%00", "/predict/YOGYAKARTA",
    "/predict/%2e%2e", "/predict/yogyakarta;x", "/predict/yogyakarta%20",
    "/predict/" + "y" * 5000, "/predict/\u202eyogyakarta", "/predict/yogy%E2%80%8Bakarta",
])
def test_path_tricks_in_the_region_are_404s(logged_client, log_files, path):
    response = logged_client.post(path, json=LISTING)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] in {"unknown_region", "not_found"}
    assert len(response.get_data()) < MAX_ERROR_BYTES
    assert_log_is_json_lines(log_files)


def test_a_10_kb_request_id_is_replaced(client):
    response = client.get("/health", headers={"X-Request-ID": "a" * 10_000})
    assert len(response.headers["X-Request-ID"]) == 36


def test_options_answers_in_json(client):
    response = client.options("/predict/yogyakarta")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.get_json() == {"allowed_methods": ["OPTIONS", "POST"]}
    assert set(response.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}
    assert_error(client.options("/nope"), 404, "not_found")


@pytest.mark.parametrize("path", ["/health", "/nope", "/openapi.json", "/docs/", "/metrics"])
def test_every_response_says_nosniff(client, path):
    response = client.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Server" not in response.headers
