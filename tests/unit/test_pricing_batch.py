"""A batch priced as numpy columns says exactly what `price_listing` says row by row."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from kosprice.features import derive
from kosprice.ml.pricing import price_batch, price_listing
from kosprice.ml.repository import ModelRepository
from tests.factories import LISTING
from tests.unit.test_pricing import METADATA, ROW

MODELS = Path(__file__).resolve().parents[2] / "models"
ODD_PRICES = [math.nan, math.inf, -math.inf, -1.0, 0.0, 399_999.99, 400_000.0, 6_000_000.0,
              6_000_000.01, 1e300, 2.0**60, 1_230_500.0, 1_231_500.0, 999.5]
ODD_VALUES = {"luas_kamar": [6.0, 5.999, 30.0, 30.000001, math.nan, 12, True, None, 10**400],
              "jarak_ke_bca": [0.1, 0.0, 12.0, 13.0, 1],
              "tipe_kos": ["putra", "putri", "campur", 1],
              "is_km_dalam": [0, 1, 2, 1.0, False]}


def random_rows(rng: random.Random, n: int, odd: float) -> tuple[list[float], list[dict]]:
    prices, rows = [], []
    for _ in range(n):
        row = dict(ROW)
        if rng.random() < odd:
            name = rng.choice(list(ODD_VALUES))
            row[name] = rng.choice(ODD_VALUES[name])
        rows.append(row)
        prices.append(rng.choice(ODD_PRICES) if rng.random() < odd
                      else rng.uniform(400_000, 6_000_000))
    return prices, rows


def by_row(prices, rows, metadata, asked=None):
    asked = asked or {}
    return [price_listing(price, row, metadata, *asked.get(i, ())).as_dict()
            for i, (price, row) in enumerate(zip(prices, rows, strict=True))]


def same(got, expected):
    # json.dumps: NaN equals NaN, and int 1 differs from float 1.0 as in the response.
    assert json.dumps(got) == json.dumps(expected)
    for a, b in zip(got, expected, strict=True):
        assert [type(v) for v in a.values()] == [type(v) for v in b.values()]


@pytest.mark.parametrize("odd", [0.0, 0.05, 0.5])
@pytest.mark.parametrize("metadata", [
    METADATA, {**METADATA, "price_distribution": None}, {**METADATA, "intervals": None},
    {**METADATA, "training_ranges": None}, {k: v for k, v in METADATA.items()
                                            if k != "price_distribution"}])
def test_random_batches_match_row_by_row(odd, metadata):
    rng = random.Random(f"{odd}{sorted(metadata)}")
    for _ in range(40):
        prices, rows = random_rows(rng, rng.randint(1, 60), odd)
        asked = {i: (rng.choice([0.5, 0.8, 0.95]), rng.choice([None, 900_000.0, 1_300_000]))
                 for i in range(len(rows)) if rng.random() < odd / 4}
        try:
            expected = by_row(prices, rows, metadata, asked)
        except (TypeError, OverflowError) as exc:  # a row price_listing cannot price
            with pytest.raises(type(exc)):
                price_batch(prices, rows, metadata, asked)
            continue
        same(price_batch(prices, rows, metadata, asked), expected)


def test_plain_rows_round_half_to_even_like_round():
    prices = [1_230_500.0, 1_231_500.0, 2_000_499.999, 1_538_461.5]
    same(price_batch(prices, [ROW] * 4, METADATA), by_row(prices, [ROW] * 4, METADATA))


def test_a_row_without_a_ranged_feature_is_judged_as_price_listing_does():
    rows = [ROW, {k: v for k, v in ROW.items() if k != "tipe_kos"}]
    same(price_batch([1e6, 2e6], rows, METADATA), by_row([1e6, 2e6], rows, METADATA))


@pytest.mark.parametrize("region", ["jakarta_pusat", "jakarta_selatan", "jakarta_utara",
                                    "yogyakarta"])
def test_shipped_models_price_a_batch_as_row_by_row(region):
    repository = ModelRepository(MODELS)
    folder = repository.version_dir(region, repository.serving_version(region))
    metadata = json.loads((folder / "metadata.json").read_text())
    rng = random.Random(region)
    listings = [{**LISTING, "luas_kamar": rng.uniform(1, 100), "jarak_ke_bca": rng.uniform(0, 8),
                 "tipe_kos": rng.choice(["putra", "putri", "campur"]),
                 "is_furnished": rng.randint(0, 1),
                 "nama_kos": rng.choice(["Kost Apik Tipe A", "", " "])} for _ in range(300)]
    rows = [derive(listing, tuple(metadata["features"])) for listing in listings]
    prices = [rng.uniform(200_000, 9_000_000) for _ in rows]
    same(price_batch(prices, rows, metadata), by_row(prices, rows, metadata))


def test_a_title_models_rows_without_a_title_take_the_twins_range():
    metadata = {**METADATA, "features": [*ROW, "nama_kos"], "intervals_without_title": {
        "bounds": {"0.8": [-0.5, 0.5]}}}
    rows = [{**ROW, "nama_kos": title} for title in ("Kost Apik", "", "  ", "Kost Apik")]
    got = price_batch([1e6] * 4, rows, metadata)
    same(got, by_row([1e6] * 4, rows, metadata))
    assert [[w["code"] for w in body["warnings"]] for body in got] == [
        [], ["title_missing"], ["title_missing"], []]
    assert got[0]["price_range"] != got[1]["price_range"] == got[2]["price_range"]
