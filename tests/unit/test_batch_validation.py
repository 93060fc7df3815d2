"""The batch's quick listing check never accepts what the marshmallow schema refuses, and
returns exactly what the schema returns for what it accepts."""

from __future__ import annotations

import math
import random

import pytest
from marshmallow import ValidationError

from kosprice.api.batch import load_batch, quick_listing, quick_listings
from kosprice.api.schemas import load_listing
from kosprice.errors import BatchTooLargeError
from kosprice.features import FEATURES, INPUT_FEATURES
from tests.factories import LISTING

USED = (*(name for name in LISTING if name not in ("is_ac", "is_internet")), "amenities_count")
"""A model's features: the derived amenities_count is among them, never in a payload."""
ODD_VALUES = [None, True, False, 0, 1, 2, -1, 0.0, 1.0, 0.5, 1e-300, 100, 100.0000001, 50,
              50.0, 51, -0.0, math.nan, math.inf, -math.inf, 10**400, "1", "putri", "PUTRI",
              "", [], {}, [1], 3.7, 12, "campur", 1.5]
TITLES = ["Kost Apik Tipe A", "", " ", "x" * 200, "x" * 201, None, 7, ["Kost"]]
TITLED = (*USED, "nama_kos")
"""A title model's features: the title is optional."""


def random_payload(rng: random.Random) -> object:
    if rng.random() < 0.03:
        return rng.choice([None, [], "listing", 3, [dict(LISTING)]])
    payload = dict(LISTING)
    for _ in range(rng.randint(0, 3)):
        action = rng.random()
        name = rng.choice(INPUT_FEATURES)
        if action < 0.15:
            payload.pop(name, None)
        elif action < 0.2:
            payload[rng.choice(["sauna", "harga", "amenities_count", "nama_kos"])] = 1
        elif action < 0.3:
            payload["nama_kos"] = rng.choice(TITLES)
        elif action < 0.6:
            payload[name] = rng.choice(ODD_VALUES)
        else:
            feature = FEATURES[name]
            payload[name] = (rng.choice(feature.choices) if feature.kind == "category"
                             else rng.randint(0, 1) if feature.kind == "flag"
                             else rng.uniform(-5, feature.maximum + 5))
    return payload


@pytest.mark.parametrize("used", [USED, USED[:4], (*USED[:3], "amenities_count"), TITLED])
def test_quick_check_agrees_with_the_schema_on_random_payloads(used):
    rng = random.Random(20261203)
    accepted = 0
    for _ in range(4000):
        payload = random_payload(rng)
        quick = quick_listing(payload, used)
        try:
            expected = load_listing(payload, used)
        except ValidationError:
            assert quick is None, payload
            continue
        if quick is not None:
            accepted += 1
            assert quick == expected, payload
            assert {k: type(v) for k, v in quick.items()} == \
                {k: type(v) for k, v in expected.items()}
    assert accepted > 1000  # the quick path does the work for plainly valid listings


def test_load_batch_reports_errors_by_index():
    valid, errors = load_batch({"listings": [LISTING, {**LISTING, "tipe_kos": "x"}, LISTING]},
                               USED, 10)
    assert [index for index, _ in valid] == [0, 2]
    assert list(errors) == [1] and "tipe_kos" in errors[1]
    with pytest.raises(BatchTooLargeError) as raised:
        load_batch({"listings": [LISTING] * 11}, USED, 10)
    assert raised.value.details == {"max_items": 10, "items": 11}


@pytest.mark.parametrize("used", [USED, USED[:4], TITLED])
def test_a_batch_checked_by_columns_says_what_each_item_says(used):
    """quick_listings groups items by their keys; a group with one odd value, or of a key
    order of its own, must still give each item exactly quick_listing's answer."""
    rng = random.Random(20261204)
    for _ in range(150):
        items = [random_payload(rng) if rng.random() < 0.1 else dict(LISTING)
                 for _ in range(rng.randint(1, 40))]
        if rng.random() < 0.3:  # a group that differs in one value only
            item = rng.choice([item for item in items if type(item) is dict] or [{}])
            item[rng.choice(INPUT_FEATURES)] = rng.choice(ODD_VALUES)
        if rng.random() < 0.2:  # the same keys in another order
            items.append(dict(reversed(list(LISTING.items()))))
        if rng.random() < 0.3:  # titles, one of them perhaps too long
            for item in items[:5]:
                if type(item) is dict:
                    item["nama_kos"] = rng.choice(TITLES[:5])
        if rng.random() < 0.2:  # flags sent as booleans, numbers as integers
            items.append({**LISTING, "is_ac": True, "is_km_dalam": False, "luas_kamar": 12})
        got = quick_listings(items, used)
        expected = [quick_listing(item, used) for item in items]
        assert got == expected
        for a, b in zip(got, expected, strict=True):
            if b is not None:
                assert list(a.items()) == list(b.items())
                assert [type(v) for v in a.values()] == [type(v) for v in b.values()]
