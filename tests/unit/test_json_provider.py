"""orjson in front of Flask's JSON provider changes no answer and no parsed body."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import json
import math
import uuid

import numpy as np
import pytest
from flask import Flask
from flask.json.provider import DefaultJSONProvider

from kosprice.api.jsonprovider import FastJSONProvider


@pytest.fixture()
def providers():
    app = Flask("t")
    fast, flask = FastJSONProvider(app), DefaultJSONProvider(app)
    fast.sort_keys = flask.sort_keys = False
    with app.app_context():
        yield fast, flask


@dataclasses.dataclass
class Point:
    x: float


DOCUMENTS = [
    {"region": "yogyakarta", "predicted_price": 1_230_000, "price_range": {"low": 1, "high": 2},
     "warnings": [], "nested": [[1.5, -0.0, 1e16, 1.5e-05, 0.1, True, False]]},
    {"value": None}, {"value": math.nan}, {"value": [math.inf, -math.inf]},
    {"tipe": "é", "emoji": "\U0001f3e0"}, {"big": 2**64, "small": -(2**70)},
    {1: "int key"}, {"when": datetime.datetime(2026, 12, 4, 8, 0, 0),
                     "day": datetime.date(2026, 12, 4)},
    {"price": np.float64(1.25), "count": np.int64(3)}, {"amount": decimal.Decimal("1.10")},
    {"id": uuid.UUID(int=7)}, {"point": Point(1.0)}, [1, 2, 3], "text", 12, 1.5, None,
    {"nullable": "a string saying null"}, {"tuple": (1, "a")},
]


def parsed(text: bytes | str) -> object:
    """JSON text read back so that NaN equals NaN (as its text) and 1 differs from 1.0."""
    return json.dumps(json.loads(text), sort_keys=False)


@pytest.mark.parametrize("document", DOCUMENTS, ids=range(len(DOCUMENTS)))
def test_answers_mean_what_flask_answers(providers, document):
    fast, flask = providers
    try:
        expected = flask.response(document)
    except TypeError:  # Flask cannot write it: neither may the fast provider
        with pytest.raises(TypeError):
            fast.response(document)
        return
    got = fast.response(document)
    assert got.mimetype == expected.mimetype
    assert got.get_data().endswith(b"\n") and got.get_data().isascii()
    assert parsed(got.get_data()) == parsed(expected.get_data())


def test_answers_are_byte_for_byte_flasks_for_plain_documents(providers):
    fast, flask = providers
    document = DOCUMENTS[0] | {"items": [{"index": i, "price": i * 1000.5} for i in range(50)]}
    document["nested"] = [[1.5, -0.0, 1e16, 0.1, True, False]]  # no exponent to respell
    assert fast.response(document).get_data() == flask.response(document).get_data()


BODIES = [b'{"luas_kamar": 12.0, "tipe_kos": "putri"}', b'{"a": 1, "a": 2}',
          b'{"n": 18446744073709551616}', b'{"n": -9223372036854775809}',
          b'{"n": 1234567890123456789}', b'{"x": NaN}', b'{"x": Infinity}', b'[1e400]',
          b'"\\ud800"', b'\xef\xbb\xbf{"bom": 1}', '{"u": 1}'.encode("utf-16"),
          b'{"broken": ', b"", b"[" * 5000 + b"]" * 5000,
          b"[" * 1000 + b"]" * 1000, b"[" * 254 + b"]" * 254, b"[" * 255 + b"]" * 255,
          b'{"a":' * 600 + b"1" + b"}" * 600, b'{"x": 0.30000000000000004}',
          b'\xff', b'{"s": "\xc3\xa9"}', b' [1 , 2 ] ']


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_bodies_parse_as_flask_parses_them(providers, body):
    fast, flask = providers
    try:
        expected = flask.loads(body)
    except (ValueError, RecursionError) as exc:
        with pytest.raises(type(exc)):
            fast.loads(body)
        return
    got = fast.loads(body)
    assert json.dumps(got) == json.dumps(expected)
    assert type(got) is type(expected)


def test_the_app_serves_through_it(client):
    assert isinstance(client.application.json, FastJSONProvider)
