"""Coverage measured out of fold over all rows: every row once, by bounds that never saw it."""

from __future__ import annotations

import pandas as pd
import pytest

from kosprice.ml import calibration, intervals, search, training
from tests.factories import synthetic_rows

FEATURES = ["luas_kamar", "jarak_ke_bca", "tipe_kos", "is_km_dalam", "amenities_count"]


@pytest.fixture(scope="module")
def rows():
    frame = pd.DataFrame(synthetic_rows(n=200, seed=5))
    prices = frame["harga"].astype(float)
    return training.model_inputs(frame, FEATURES), prices, training.price_strata(prices)


def test_every_row_is_scored_once_at_every_level(rows):
    x, y, strata = rows
    messages = []
    measured = calibration.out_of_fold_coverage(x, y, strata, FEATURES, "ridge_log", 0,
                                                folds=3, repeats=1, outer_folds=4,
                                                progress=messages.append)
    assert measured["rows"] == len(y) and len(messages) == 4
    assert set(measured["levels"]) == {intervals.level_key(lv) for lv in intervals.LEVELS}
    shares = [measured["levels"][intervals.level_key(lv)]["coverage"]
              for lv in sorted(intervals.LEVELS)]
    assert shares == sorted(shares)  # wider levels never cover fewer rows
    for key, level in measured["levels"].items():
        assert level["rows"] == len(y) and level["standard_error"] > 0
        # A sound procedure on exchangeable rows: within 4 standard errors of the level.
        assert abs(level["coverage"] - float(key)) < 4 * max(level["standard_error"], 0.02)


def test_the_bounds_come_from_each_outer_folds_own_rows(rows, monkeypatch):
    x, y, strata = rows
    seen, original = [], search.cross_validate
    monkeypatch.setattr(search, "cross_validate", lambda name, x_fit, *args, **kwargs: (
        seen.append(set(x_fit.index)) or original(name, x_fit, *args, **kwargs)))
    calibration.out_of_fold_coverage(x, y, strata, FEATURES, "ridge_log", 0, folds=3,
                                     repeats=1, outer_folds=4)
    assert len(seen) == 4
    assert set().union(*(set(x.index) - fitted for fitted in seen)) == set(x.index)
    assert all(len(fitted) < len(x) for fitted in seen)
