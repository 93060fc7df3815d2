"""Conformal price intervals: finite-sample quantiles of log residuals, and their coverage."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kosprice.ml import intervals


def test_residuals_are_relative_and_need_positive_prices():
    residuals = intervals.log_residuals([2_000_000, 500_000], [1_000_000, 1_000_000])
    assert residuals == pytest.approx([math.log(2), math.log(0.5)])
    with pytest.raises(ValueError, match="positive"):
        intervals.log_residuals([1_000_000], [-5.0])


def test_bounds_use_the_finite_sample_correction():
    # 19 residuals 1..19: for 80%, the upper bound is the ceil(20 * 0.9) = 18th smallest and
    # the lower one the floor(20 * 0.1) = 2nd smallest (plain quantiles would interpolate).
    residuals = np.arange(1, 20, dtype=float)
    low, high = intervals.conformal_bounds(residuals, levels=[0.8])["0.8"]
    assert (low, high) == (2.0, 18.0)
    # Too few rows for 95%: the bound is the extreme residual, never an extrapolation.
    assert intervals.conformal_bounds(residuals, levels=[0.95])["0.95"] == [1.0, 19.0]


def test_pooled_repeats_count_rows_not_residuals():
    rng = np.random.default_rng(0)
    residuals = rng.normal(size=300)
    pooled = intervals.conformal_bounds(residuals, n=100, levels=[0.9])["0.9"]
    unpooled = intervals.conformal_bounds(residuals, levels=[0.9])["0.9"]
    assert pooled[0] <= unpooled[0] and pooled[1] >= unpooled[1]  # fewer rows: wider


def test_every_allowed_level_is_calibrated_and_nested():
    bounds = intervals.conformal_bounds(np.random.default_rng(1).normal(0, 0.3, 400))
    assert set(bounds) == {intervals.level_key(level) for level in intervals.LEVELS}
    widths = [bounds[intervals.level_key(level)] for level in sorted(intervals.LEVELS)]
    for narrower, wider in zip(widths, widths[1:], strict=False):
        assert wider[0] <= narrower[0] <= narrower[1] <= wider[1]


def test_intervals_scale_with_the_price():
    bounds = [math.log(0.8), math.log(1.25)]
    assert intervals.interval(1_000_000, bounds) == pytest.approx((800_000, 1_250_000))
    assert intervals.interval(6_000_000, bounds) == pytest.approx((4_800_000, 7_500_000))


def test_calibrated_bounds_cover_new_rows_at_their_level():
    # Multiplicative noise, as rents have: calibrate on one sample, measure on another.
    rng = np.random.default_rng(42)
    predicted = rng.uniform(500_000, 6_000_000, size=4000)
    actual = predicted * np.exp(rng.normal(0, 0.25, size=4000))
    residuals = intervals.log_residuals(actual[:2000], predicted[:2000])
    bounds = intervals.conformal_bounds(residuals)
    report = intervals.coverage(actual[2000:], predicted[2000:], bounds)
    for key, measured in report.items():
        assert measured["rows"] == 2000
        assert abs(measured["coverage"] - float(key)) < 0.03, (key, measured)
        assert measured["mean_relative_width"] > 0


def test_coverage_states_its_standard_error_and_whether_the_level_is_met():
    residuals = np.concatenate([np.zeros(80), np.full(20, 5.0)])  # 80 of 100 inside
    measured = intervals.coverage_of(residuals, 0.8, -1.0, 1.0)
    assert measured["coverage"] == pytest.approx(0.8) and measured["rows"] == 100
    assert measured["standard_error"] == pytest.approx(math.sqrt(0.8 * 0.2 / 100))
    assert measured["within_tolerance"] is True
    assert intervals.coverage_of(residuals, 0.9, -1.0, 1.0)["within_tolerance"] is False
    # One bound per row (each outer fold calibrates its own): rows are judged by their own.
    per_row = intervals.coverage_of(residuals, 0.8, np.full(100, -1.0),
                                    np.r_[np.full(90, 1.0), np.full(10, 6.0)])
    assert per_row["coverage"] == pytest.approx(0.9)
