"""What a client is told about a price: rounding, interval, warnings, verdict."""

from __future__ import annotations

import math

import pytest

from kosprice.ml.pricing import (
    bounded_price,
    input_warnings,
    price_listing,
    round_price,
    verdict,
)

METADATA = {
    "model_version": "v2.0.0",
    "price_distribution": {"min": 400_000.0, "max": 6_000_000.0},
    "training_ranges": {"luas_kamar": {"min": 6.0, "max": 30.0},
                        "jarak_ke_bca": {"min": 0.1, "max": 12.0},
                        "tipe_kos": {"values": ["putra", "putri"]},
                        "is_km_dalam": {"min": 0.0, "max": 1.0}},
    "intervals": {"bounds": {"0.8": [math.log(0.8), math.log(1.25)],
                             "0.95": [math.log(0.6), math.log(1.5)]}},
}
ROW = {"luas_kamar": 12.0, "jarak_ke_bca": 1.5, "tipe_kos": "putri", "is_km_dalam": 1}


def test_prices_are_rounded_to_a_thousand_rupiah():
    assert round_price(1_230_302.54) == 1_230_000
    assert round_price(1_230_500.01) == 1_231_000
    assert round_price(1_230_001, math.ceil) == 1_231_000


def test_a_price_in_range_comes_with_its_interval_and_no_warnings():
    priced = price_listing(1_230_302.54, ROW, METADATA)
    assert priced.predicted_price == 1_230_000
    assert priced.price_range == {"low": 984_000, "high": 1_538_000, "level": 0.8}
    assert priced.warnings == [] and priced.verdict is None
    assert "verdict" not in priced.as_dict()


def test_the_level_chooses_the_calibrated_bounds():
    priced = price_listing(1_000_000, ROW, METADATA, level=0.95)
    assert priced.price_range == {"low": 600_000, "high": 1_500_000, "level": 0.95}


def test_a_level_without_calibration_says_so_instead_of_guessing():
    priced = price_listing(1_000_000, ROW, {**METADATA, "intervals": None})
    assert priced.price_range is None
    assert [w["code"] for w in priced.warnings] == ["interval_unavailable"]


def test_each_input_outside_the_training_data_is_named():
    row = {**ROW, "luas_kamar": 64.0, "jarak_ke_bca": 30.0, "tipe_kos": "campur"}
    warnings = input_warnings(row, METADATA["training_ranges"])
    assert [(w["feature"], w["code"]) for w in warnings] == [
        ("luas_kamar", "outside_training_range"), ("jarak_ke_bca", "outside_training_range"),
        ("tipe_kos", "outside_training_range")]
    assert warnings[1]["training_range"] == [0.1, 12.0] and warnings[1]["value"] == 30.0
    assert warnings[2]["training_values"] == ["putra", "putri"]
    assert input_warnings({**ROW, "luas_kamar": 30.0}, METADATA["training_ranges"]) == []


@pytest.mark.parametrize("raw", [-112_562.41, 0.0, 12.0, float("nan"), float("-inf")])
def test_a_price_below_the_training_prices_is_raised_to_the_lowest_and_flagged(raw):
    priced = price_listing(raw, ROW, METADATA)
    assert priced.predicted_price == 400_000
    clamp = [w for w in priced.warnings if w["code"] == "price_clamped"]
    assert clamp and clamp[0]["bound"] == 400_000.0
    assert priced.price_range["low"] > 0


def test_a_price_above_the_training_prices_is_lowered_and_flagged():
    price, warnings = bounded_price(9_000_000, METADATA["price_distribution"])
    assert price == 6_000_000 and warnings[0]["raw_price"] == 9_000_000


def test_without_a_price_distribution_only_non_positive_prices_move():
    assert bounded_price(50_000_000, None) == (50_000_000, [])
    assert bounded_price(-5, None)[0] == 1_000


@pytest.mark.parametrize(("offered", "label", "pct"), [
    (700_000, "underpriced", -30.0), (800_000, "fair", -20.0), (1_000_000, "fair", 0.0),
    (1_250_000, "fair", 25.0), (1_300_000, "overpriced", 30.0)])
def test_an_offer_is_judged_against_the_interval(offered, label, pct):
    priced = price_listing(1_000_000, ROW, METADATA, offered=offered)
    assert priced.verdict == {"label": label, "harga_tawaran": offered, "difference_pct": pct}
    assert priced.as_dict()["verdict"] == priced.verdict


def test_a_verdict_follows_the_requested_level():
    assert verdict(1_400_000, 1_000_000, 800_000, 1_250_000)["label"] == "overpriced"
    priced = price_listing(1_000_000, ROW, METADATA, level=0.95, offered=1_400_000)
    assert priced.verdict["label"] == "fair"


def test_an_offer_without_an_interval_gets_the_difference_but_no_label():
    priced = price_listing(1_000_000, ROW, {**METADATA, "intervals": None}, offered=1_100_000)
    assert priced.verdict == {"label": None, "harga_tawaran": 1_100_000, "difference_pct": 10.0}
