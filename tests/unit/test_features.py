"""The feature catalogue: bounds, allowed values and the derived amenities count."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kosprice.features import (
    AMENITY_FLAGS,
    CATALOGUE,
    CSV_COLUMNS,
    FEATURES,
    INPUT_FEATURES,
    NAME_COLUMN,
    TARGET,
    derive,
)


def test_catalogue_holds_the_issue_features_in_order():
    assert [f.name for f in CATALOGUE] == [
        "luas_kamar", "jarak_ke_bca", "tipe_kos", "is_ac", "is_km_dalam", "is_water_heater",
        "is_furnished", "is_internet", "is_listrik_free", "is_parkir_mobil", "is_mesin_cuci",
        "amenities_count", "nama_kos"]
    assert len(AMENITY_FLAGS) == 8 and all(name.startswith("is_") for name in AMENITY_FLAGS)


def test_derived_features_are_not_inputs_and_not_csv_columns():
    assert FEATURES["amenities_count"].derived
    assert "amenities_count" not in INPUT_FEATURES
    assert CSV_COLUMNS == (NAME_COLUMN, TARGET, *INPUT_FEATURES)


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("luas_kamar", 0, False),          # a room has a size
    ("luas_kamar", 0.5, False),        # below 1 m²: training clips these, so the API refuses
    ("luas_kamar", 1, True),           # the minimum itself is inclusive
    ("luas_kamar", 100, True),
    ("luas_kamar", 100.1, False),
    ("luas_kamar", -3, False),
    ("jarak_ke_bca", 0, True),
    ("jarak_ke_bca", 50, True),
    ("jarak_ke_bca", 50.01, False),
    ("jarak_ke_bca", -0.1, False),
    ("tipe_kos", "putra", True),
    ("tipe_kos", "putri", True),
    ("tipe_kos", "campur", True),
    ("tipe_kos", "Putra", False),
    ("tipe_kos", "pria", False),
    ("is_ac", 0, True),
    ("is_ac", 1, True),
    ("is_ac", 2, False),
    ("is_ac", -1, False),
    ("is_ac", 0.5, False),
    ("amenities_count", 8, True),
    ("amenities_count", 9, False),
])
def test_accepts_the_documented_bounds_and_choices(name, value, expected):
    assert FEATURES[name].accepts(value) is expected


@pytest.mark.parametrize("value", ["12", None, True, False, math.nan, math.inf, -math.inf,
                                   [12], {"value": 12}])
def test_number_refuses_non_numbers_and_non_finite_values(value):
    assert FEATURES["luas_kamar"].accepts(value) is False


@pytest.mark.parametrize("value", [np.int64(12), np.float64(12.5), np.float32(3.0)])
def test_number_accepts_numpy_scalars_as_pandas_hands_them_over(value):
    assert FEATURES["luas_kamar"].accepts(value) is True


def test_numpy_values_out_of_bounds_are_refused():
    assert FEATURES["luas_kamar"].accepts(np.int64(625)) is False
    assert FEATURES["luas_kamar"].accepts(np.float64("nan")) is False


def test_derive_counts_only_the_amenity_flags_the_model_uses():
    listing = {"luas_kamar": 12.0, "tipe_kos": "putri", "is_ac": 1, "is_km_dalam": 1,
               "is_furnished": 0, "is_mesin_cuci": 1}
    row = derive(listing, ["luas_kamar", "tipe_kos", "is_km_dalam", "is_furnished",
                           "is_mesin_cuci", "amenities_count"])
    # is_ac is set but not a model feature: it neither enters the row nor the count.
    assert row == {"luas_kamar": 12.0, "tipe_kos": "putri", "is_km_dalam": 1,
                   "is_furnished": 0, "is_mesin_cuci": 1, "amenities_count": 2}


def test_derive_leaves_amenities_count_out_when_the_model_does_not_use_it():
    row = derive({"luas_kamar": 9, "is_ac": 1, "amenities_count": 99}, ["luas_kamar", "is_ac"])
    assert row == {"luas_kamar": 9, "is_ac": 1}


def test_derive_ignores_a_client_supplied_amenities_count():
    row = derive({"is_ac": 1, "is_km_dalam": 1, "amenities_count": 7},
                 ["is_ac", "is_km_dalam", "amenities_count"])
    assert row["amenities_count"] == 2
