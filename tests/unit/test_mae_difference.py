"""The paired bootstrap interval of a comparison's MAE difference."""

from __future__ import annotations

import numpy as np

from kosprice.ml.comparison import Comparison, Evaluation


def comparison(actual, candidate, production) -> Comparison:
    def scored(version, predictions):
        mae = float(np.mean(np.abs(predictions - actual)))
        return Evaluation(version, "Ridge", {}, [], {"mae": mae}, predictions)

    return Comparison("yogyakarta", len(actual), actual, scored("v1.1.0", candidate),
                      scored("v1.0.0", production), "better", "minor", "")


def test_a_clear_gain_lies_below_zero_and_noise_straddles_it():
    rng = np.random.default_rng(7)
    actual = rng.uniform(1e6, 3e6, 100)
    close, far = actual + rng.normal(0, 1e5, 100), actual + rng.normal(0, 4e5, 100)
    low, high = comparison(actual, close, far).mae_difference_interval()
    assert low < high < 0
    again = actual + rng.normal(0, 1e5, 100)  # as good as `close`: the sign is luck
    low, high = comparison(actual, again, close).mae_difference_interval()
    assert low < 0 < high
    assert comparison(actual, close, close).mae_difference_interval() == (0.0, 0.0)


def test_the_interval_is_reproducible_and_absent_without_production():
    actual = np.linspace(1e6, 2e6, 50)
    c = comparison(actual, actual * 1.1, actual * 0.85)
    assert c.mae_difference_interval() == c.mae_difference_interval()
    first = c.__class__(**{**c.__dict__, "production": None})
    assert first.mae_difference_interval() is None
