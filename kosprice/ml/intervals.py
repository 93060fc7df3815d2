"""Price intervals from conformal quantiles of relative (log-space) residuals.

Calibration uses predictions for rows the model did not train on: the out-of-fold
predictions of the cross-validation that chose the model (cross-conformal). A residual is
`log(actual / predicted)`, so an interval scales with the price: a 1M kos and a 6M kos
get the same relative width, not the same ± Rupiah. For each level the lower and upper
residual quantiles are taken with the finite-sample correction of split conformal
prediction, so the interval [predicted · e^low, predicted · e^high] covers the level on
new rows from the same distribution (in expectation; measured on the held-out rows).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

LEVELS: tuple[float, ...] = (0.5, 0.8, 0.9, 0.95)
"""Interval levels a request may ask for."""
DEFAULT_LEVEL = 0.8


def level_key(level: float) -> str:
    """The metadata key of a level: `"0.8"`."""
    return f"{level:g}"


def log_residuals(actual: Iterable[float], predicted: Iterable[float]) -> np.ndarray:
    """`log(actual / predicted)` per row; predictions must be positive."""
    actual, predicted = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
    if (actual <= 0).any() or (predicted <= 0).any():
        raise ValueError("relative residuals need positive prices and predictions")
    return np.log(actual / predicted)


def conformal_bounds(residuals: Iterable[float], n: int | None = None,
                     levels: Iterable[float] = LEVELS) -> dict[str, list[float]]:
    """Per level, the [low, high] log-residual quantiles of a two-sided conformal interval.

    `n` is the number of calibration rows (default: the residuals given). With repeated
    cross-validation each row has several out-of-fold residuals; pooling them estimates the
    quantiles better, but the finite-sample correction must count rows, not residuals.
    """
    values = np.sort(np.asarray(list(residuals), dtype=float))
    n = len(values) if n is None else n
    if n < 1 or len(values) == 0:
        raise ValueError("conformal bounds need at least one calibration residual")
    bounds = {}
    for level in levels:
        # The k-th smallest of n residuals (round() keeps 20 * 0.1 from becoming 1.999...).
        tail = (1 - level) / 2
        upper_k = math.ceil(round((n + 1) * (1 - tail), 9))
        lower_k = math.floor(round((n + 1) * tail, 9))
        bounds[level_key(level)] = [_order_statistic(values, lower_k, n),
                                    _order_statistic(values, upper_k, n)]
    return bounds


def _order_statistic(values: np.ndarray, k: int, n: int) -> float:
    """The k-th smallest of n rows, read from the sorted (possibly pooled) residuals.

    Beyond the sample (k < 1 or k > n) the extreme residual is used: too few rows for the
    level make the interval as wide as the data allows, never an extrapolation.
    """
    k = min(max(k, 1), n)
    index = math.ceil(k / n * len(values)) - 1
    return float(values[min(max(index, 0), len(values) - 1)])


def interval(price: float, bounds: list[float]) -> tuple[float, float]:
    """The price interval for one prediction from a level's log-residual bounds."""
    low, high = bounds
    return price * math.exp(low), price * math.exp(high)


TOLERANCE = 0.03
"""A level is met when the measured coverage lies within 3 points of it."""


def coverage_of(residuals: np.ndarray, level: float, low, high) -> dict[str, Any]:
    """The share of log residuals inside [low, high] (scalars or one bound per row).

    `standard_error` is the binomial sqrt(p (1 - p) / rows) of that share: a coverage
    measured on 100 rows is only known to about ±4-5 points, on 500 rows to about ±2.
    `mean_relative_width` is (high - low) / predicted, averaged over the rows.
    """
    inside = (residuals >= low) & (residuals <= high)
    share, rows = float(inside.mean()), int(len(residuals))
    return {"level": level, "coverage": share, "rows": rows,
            "standard_error": math.sqrt(share * (1 - share) / rows),
            "within_tolerance": abs(share - level) <= TOLERANCE + 1e-9,
            "mean_relative_width": float(np.mean(np.exp(high) - np.exp(low)))}


def coverage(actual: Iterable[float], predicted: Iterable[float],
             bounds: Mapping[str, list[float]]) -> dict[str, dict[str, Any]]:
    """Per level: the share of rows whose actual price lies inside its interval, and width."""
    residuals = log_residuals(actual, predicted)
    return {key: coverage_of(residuals, float(key), low, high)
            for key, (low, high) in bounds.items()}
