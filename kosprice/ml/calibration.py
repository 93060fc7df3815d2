"""Measure the coverage of the price ranges out of fold, over every cleaned row.

The served model's held-out rows are few (about 100 per region): a coverage measured on
them alone has a standard error of 4-5 points at level 0.5, too coarse to tell a ±3-point
miss from luck. So the whole calibration procedure is measured by cross-validation over all
rows: for each outer fold, the chosen candidate's repeated K-fold on the other rows gives
the out-of-fold residuals and the conformal bounds (exactly as `kosprice train` calibrates),
the candidate is fitted on those rows, and each row of the fold is checked against its
interval. Every row is then scored once, by a model and bounds that never saw it.

The candidate was chosen by the search on the training rows, which overlap the outer folds'
rows; the choice is between few candidates with near-equal interval widths, so the bias is
small, and the held-out coverage is still stored beside this measurement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from kosprice.ml import intervals, search
from kosprice.ml.title import TITLE

OUTER_FOLDS = 5
CALIBRATION_FOLDS = 10
"""The ranges are calibrated on 10-fold out-of-fold residuals of the chosen candidate: fold
models trained on 90% of the rows are nearly the served model. With the search's 5-fold
ones (80%) the ranges came out 1-3 points wider than their level (docs/model-quality.md)."""

Progress = Callable[[str], None]


def calibrating_predictions(candidate: str, x: pd.DataFrame, y: pd.Series,
                            features: Sequence[str], seed: int,
                            folds: int = CALIBRATION_FOLDS, repeats: int = 1,
                            ) -> search.OutOfFold:
    """The out-of-fold predictions a candidate's price ranges are calibrated on."""
    with threadpool_limits(1):
        return search.cross_validate(candidate, x, y, features, seed, folds, repeats)[1]


def out_of_fold_coverage(x: pd.DataFrame, y: pd.Series, strata: pd.Series,
                         features: Sequence[str], candidate: str, seed: int,
                         folds: int = CALIBRATION_FOLDS, repeats: int = 1,
                         outer_folds: int = OUTER_FOLDS,
                         progress: Progress = lambda _: None) -> dict[str, Any]:
    """Coverage per level of the calibrated ranges, every row scored out of fold once (a
    title candidate's title-less ranges too, on the same rows sent without their titles)."""
    splitter = StratifiedKFold(n_splits=outer_folds, shuffle=True, random_state=seed)
    titled = search.CANDIDATES[candidate].title
    ways = ("with_title", "without_title") if titled else ("with_title",)
    actual = np.empty(len(y))
    predicted = {way: np.empty(len(y)) for way in ways}
    lows = {way: {intervals.level_key(level): np.empty(len(y)) for level in intervals.LEVELS}
            for way in ways}
    highs = {way: {key: np.empty(len(y)) for key in lows[way]} for way in ways}
    for number, (fit_rows, test_rows) in enumerate(splitter.split(x, strata), 1):
        progress(f"coverage: outer fold {number}/{outer_folds}")
        x_fit, y_fit = x.iloc[fit_rows], y.iloc[fit_rows]
        oof = calibrating_predictions(candidate, x_fit, y_fit, features, seed, folds, repeats)
        with threadpool_limits(1):
            model = search.build_pipeline(candidate, features, seed).fit(
                x_fit[search.features_of(candidate, features)], y_fit)
        actual[test_rows] = y.iloc[test_rows].to_numpy()
        for way in ways:
            rows, calibration = x.iloc[test_rows], oof.predicted
            if way == "without_title":
                rows, calibration = rows.assign(**{TITLE: ""}), oof.without_title
            bounds = intervals.conformal_bounds(
                intervals.log_residuals(oof.actual, calibration), n=len(fit_rows))
            predicted[way][test_rows] = model.predict(rows)
            for key, (low, high) in bounds.items():
                lows[way][key][test_rows], highs[way][key][test_rows] = low, high

    def levels(way: str) -> dict[str, Any]:
        residuals = intervals.log_residuals(actual, predicted[way])
        return {key: intervals.coverage_of(residuals, float(key), lows[way][key],
                                           highs[way][key]) for key in lows[way]}

    measured = {"method": f"{outer_folds}-fold cross-validation over all {len(y)} cleaned "
                          f"rows (stratified as the split); each outer fold calibrated by "
                          f"the candidate's {repeats} x {folds}-fold out-of-fold residuals "
                          f"on its other rows",
                "rows": int(len(y)), "outer_folds": outer_folds, "seed": seed,
                "levels": levels("with_title")}
    if titled:
        measured["without_title"] = {"levels": levels("without_title")}
    return measured
