"""Drift arithmetic: live values binned exactly as training binned its rows, and PSI."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from kosprice.ml.training import decile_bins, reference_distributions
from kosprice.monitoring.drift import (
    EPSILON,
    INSUFFICIENT_DATA,
    NO_REFERENCE,
    PREDICTED_PRICE,
    Bins,
    DriftReference,
    psi,
    status_of,
)


def live_histogram(bins: Bins, values) -> list[int]:
    """Count values by slot, then drop the outside slots: numpy.histogram's view."""
    slots = [0] * bins.slots
    for value in values:
        slots[bins.slot(value)] += 1
    return slots[1:-1]


def test_numeric_slots_match_numpy_histogram_on_the_training_rows_and_any_in_range_value():
    rng = np.random.default_rng(7)
    training = pd.Series(np.round(rng.lognormal(2.4, 0.5, 400), 1))
    bins = Bins.parse("luas_kamar", decile_bins(training))
    assert live_histogram(bins, training) == list(bins.counts)
    # Fresh values, the edges themselves included (left-closed bins, the last closed).
    live = np.concatenate([rng.uniform(bins.edges[0], bins.edges[-1], 1000), bins.edges])
    expected, _ = np.histogram(live, bins=np.array(bins.edges))
    assert live_histogram(bins, live) == expected.tolist()


def test_values_outside_the_edges_are_kept_apart_and_merge_into_the_end_bins():
    bins = Bins("jarak_ke_bca", counts=(5, 5), edges=(1.0, 2.0, 3.0))
    assert [bins.slot(v) for v in (0.5, 1.0, 1.99, 2.0, 3.0, 3.01)] == [0, 1, 1, 2, 2, 3]
    report = bins.compare([1, 4, 2, 3])  # below, [1, 2), [2, 3], above
    assert report["outside_training_range"] == {"below": 1, "above": 3}
    assert [b["live"] for b in report["bins"]] == [0.5, 0.5]
    assert report["psi"] == 0.0  # the merged shares equal the reference's


def test_value_bins_match_numbers_by_value_and_categories_by_text():
    flags = Bins("is_furnished", counts=(3, 7), values=("0", "1"))
    assert [flags.slot(v) for v in (0, 1, 1.0, "1", True, 2)] == [0, 1, 1, 1, 1, 2]
    types = Bins("tipe_kos", counts=(1, 2, 3), values=("campur", "putra", "putri"))
    assert [types.slot(v) for v in ("putri", "campur", "villa")] == [2, 0, 3]
    report = types.compare([0, 0, 5, 5])
    assert report["bins"][-1] == {"bin": "unseen", "reference": 0.0, "live": 0.5}
    assert report["status"] == "significant"


def test_value_bins_come_from_training_exactly_as_it_writes_them():
    inputs = pd.DataFrame({"tipe_kos": ["putra", "putri", "putri"], "is_mesin_cuci": [0, 1, 1],
                           "amenities_count": [0, 2, 2]})
    reference = DriftReference.from_metadata({"features": list(inputs),
                                              "reference": reference_distributions(inputs)})
    row = {"tipe_kos": "putri", "is_mesin_cuci": 1, "amenities_count": 2}
    assert reference.encode(row, 1.0) == "1,1,1"
    assert reference.unavailable == {PREDICTED_PRICE: "no reference bins in this model's metadata"}


def test_psi_of_known_shares():
    assert psi([50, 50], [50, 50]) == 0.0
    assert psi([50, 50], [80, 20]) == pytest.approx(
        (0.8 - 0.5) * math.log(0.8 / 0.5) + (0.2 - 0.5) * math.log(0.2 / 0.5))
    # An empty bin counts as EPSILON of its distribution, not as zero (no infinity).
    assert psi([100, 0], [90, 10]) == pytest.approx(
        (0.9 - 1.0) * math.log(0.9) + (0.1 - EPSILON) * math.log(0.1 / EPSILON))
    with pytest.raises(ValueError):
        psi([1, 1], [0, 0])


@pytest.mark.parametrize(("value", "status"), [
    (0.0, "stable"), (0.0999, "stable"), (0.1, "moderate"), (0.25, "moderate"),
    (0.2501, "significant"), (3.0, "significant")])
def test_status_thresholds(value, status):
    assert status_of(value) == status


def test_metadata_without_reference_bins_is_reported_not_an_error():
    reference = DriftReference.from_metadata({"features": ["luas_kamar"]})
    assert reference.encode({"luas_kamar": 10}, 1.0) is None
    report = reference.report(0, {}, min_sample=1)
    assert report["status"] == NO_REFERENCE
    assert report["features"]["luas_kamar"]["status"] == NO_REFERENCE
    assert report[PREDICTED_PRICE]["status"] == NO_REFERENCE


def test_unusable_bins_name_their_problem_and_the_rest_still_counts():
    reference = DriftReference.from_metadata({
        "features": ["luas_kamar", "jarak_ke_bca"],
        "reference": {"luas_kamar": {"edges": [3, 1], "counts": [4]},
                      "jarak_ke_bca": {"edges": [0, 1, 2], "counts": [4, 4]}},
        "prediction_reference": {"edges": [0, 10], "counts": [8]}})
    assert "unusable" in reference.unavailable["luas_kamar"]
    assert reference.encode({"luas_kamar": 2, "jarak_ke_bca": 1.5}, 5.0) == "2,1"
    report = reference.report(2, {(0, 2): 2, (1, 1): 2}, min_sample=2)
    assert report["features"]["jarak_ke_bca"]["status"] == "significant"
    assert report["features"]["luas_kamar"]["status"] == NO_REFERENCE
    assert report[PREDICTED_PRICE]["psi"] == 0.0
    assert report["status"] == "significant"


def test_below_the_minimum_sample_no_psi_is_given():
    reference = DriftReference.from_metadata({
        "features": ["jarak_ke_bca"],
        "reference": {"jarak_ke_bca": {"edges": [0, 1, 2], "counts": [4, 4]}}})
    report = reference.report(9, {(0, 1): 9}, min_sample=10)
    assert report["status"] == INSUFFICIENT_DATA
    assert report["message"] == "9 predictions in the window; PSI is reported from 10"
    assert report["features"]["jarak_ke_bca"] == {"psi": None, "status": INSUFFICIENT_DATA}


def test_a_missing_value_is_left_out_of_its_feature_only():
    reference = DriftReference.from_metadata({
        "features": ["tipe_kos", "jarak_ke_bca"],
        "reference": {"tipe_kos": {"values": ["putra"], "counts": [3]},
                      "jarak_ke_bca": {"edges": [0, 1], "counts": [3]}}})
    assert reference.encode({"jarak_ke_bca": 0.5}, 1.0) == "-,1"


def test_a_batch_encodes_exactly_as_its_listings_one_by_one():
    reference = DriftReference.from_metadata({
        "features": ["luas_kamar", "tipe_kos", "is_furnished", "amenities_count"],
        "reference": {"luas_kamar": {"edges": [3.0, 6.5, 12.0, 40.0], "counts": [4, 5, 6]},
                      "tipe_kos": {"values": ["putra", "putri"], "counts": [3, 4]},
                      "is_furnished": {"values": [0, 1], "counts": [5, 5]},
                      "amenities_count": {"values": ["1", "2", "3"], "counts": [1, 2, 3]}},
        "prediction_reference": {"edges": [1e5, 1e6, 5e6], "counts": [4, 4]}})
    odd = [None, True, False, 0, 1, 2, -0.0, 3.0, 6.5, 12.0, 40.0, 40.0000001, 2.9, 1e300,
           math.nan, math.inf, -math.inf, 10**400, "1", "putri", "campur", "", [], {}, 7]
    rng = np.random.default_rng(20261203)
    names = ["luas_kamar", "tipe_kos", "is_furnished", "amenities_count"]
    plain = [{"luas_kamar": float(rng.uniform(0, 50)), "tipe_kos": "putra",
              "is_furnished": int(rng.integers(2)), "amenities_count": int(rng.integers(5))}
             for _ in range(300)]
    mixed = [{name: odd[rng.integers(len(odd))] for name in names if rng.random() < 0.9}
             for _ in range(300)]
    for rows in (plain, mixed, plain[:1], []):
        prices = [float(p) for p in rng.uniform(0, 6e6, len(rows))]
        if rows is mixed:
            prices[:4] = [math.nan, math.inf, 1e6, 5e6]
        assert reference.encode_many(rows, prices) == [
            reference.encode(row, price) for row, price in zip(rows, prices, strict=True)]
    assert DriftReference.from_metadata({}).encode_many([{}], [1.0]) == [None]
