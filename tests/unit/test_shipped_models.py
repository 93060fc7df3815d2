"""Every shipped model version, swept over the catalogue's bounds: never a price <= 0.

Rollback targets included: an older version serves again after a rollback, so what the
service says about its prices must hold for it too.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest

from kosprice.features import AMENITY_FLAGS, FEATURES, REGIONS, derive
from kosprice.ml import predictor
from kosprice.ml.intervals import LEVELS
from kosprice.ml.pricing import price_listing
from kosprice.ml.repository import ModelRepository, check_version

MODELS = Path(__file__).resolve().parents[2] / "models"
SIZES = (0.5, 1, 9, 25, 60, 100)  # m²: (0, 100] in the catalogue
DISTANCES = (0, 0.5, 5, 30, 50)  # km: [0, 50]
FLAG_SETS = ("none", "all", "alternate")


def shipped_versions():
    repository = ModelRepository(MODELS)
    return [pytest.param(region, str(v), id=f"{region}-{v}")
            for region in REGIONS for v in repository.versions(region)]


def sweep() -> list[dict]:
    listings = []
    for size, distance, tipe, flags in itertools.product(
            SIZES, DISTANCES, FEATURES["tipe_kos"].choices, FLAG_SETS):
        listing = {"luas_kamar": size, "jarak_ke_bca": distance, "tipe_kos": tipe}
        for i, flag in enumerate(AMENITY_FLAGS):
            listing[flag] = {"none": 0, "all": 1, "alternate": i % 2}[flags]
        listings.append(listing)
    return listings


@pytest.mark.parametrize(("region", "version"), shipped_versions())
def test_no_listing_within_the_catalogue_gets_a_price_of_zero_or_less(region, version):
    problems, model = check_version(ModelRepository(MODELS).version_dir(region, version),
                                    region)
    assert model is not None, problems
    listings = sweep()
    raw = predictor.predict(model, listings)
    meta = model.metadata
    prices = meta["price_distribution"]
    ranges = meta.get("training_ranges") or {}
    for listing, price in zip(listings, raw, strict=True):
        row = derive(listing, model.features)
        for level in LEVELS:
            priced = price_listing(price, row, meta, level=level)
            assert prices["min"] - 1000 <= priced.predicted_price <= prices["max"] + 1000
            if meta.get("intervals"):
                assert 0 < priced.price_range["low"] <= priced.predicted_price \
                    <= priced.price_range["high"]
        clamped = [w for w in priced.warnings if w["code"] == "price_clamped"]
        assert bool(clamped) == (not prices["min"] <= price <= prices["max"])
        # Every input outside the training data is named, and only those.
        named = {w["feature"] for w in priced.warnings if w["code"] == "outside_training_range"}
        outside = {f for f, seen in ranges.items()
                   if ("values" in seen and str(row[f]) not in seen["values"])
                   or ("min" in seen and not seen["min"] <= row[f] <= seen["max"])}
        assert named == outside
    if meta.get("target_transform") == "log" or "Forest" in meta["model_type"] \
            or "Trees" in meta["model_type"]:
        # Chosen by the search: the model itself cannot go negative, no clamp needed below.
        assert min(raw) > 0 and all(math.isfinite(p) for p in raw)


def test_the_issue_listing_gets_a_positive_price_and_a_distance_warning():
    """`luas_kamar` 9, 30 km, putra, no amenities: v1.0.0's Ridge said -112,562 Rp."""
    serving = ModelRepository(MODELS).serving_version("yogyakarta")
    _, model = check_version(ModelRepository(MODELS).version_dir("yogyakarta", serving),
                             "yogyakarta")
    listing = {"luas_kamar": 9, "jarak_ke_bca": 30, "tipe_kos": "putra",
               **dict.fromkeys(AMENITY_FLAGS, 0)}
    raw = predictor.predict(model, [listing])[0]
    priced = price_listing(raw, derive(listing, model.features), model.metadata)
    assert priced.predicted_price > 0
    if model.metadata.get("training_ranges"):
        assert "jarak_ke_bca" in {w.get("feature") for w in priced.warnings}
