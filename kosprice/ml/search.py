"""Model search: candidate pipelines scored by repeated K-fold CV on the training rows only.

The held-out rows never take part: the candidate with the lowest mean CV MAE wins (ties
go to the earlier, simpler candidate), and only then is it fitted on all training rows
and scored once on the held-out rows. Every candidate is seeded, so a search on the same
data and seed chooses the same model with the same scores.

Every candidate is a `Pipeline` of the preprocessing `ColumnTransformer` and one of five
regressors; the ones that could extrapolate below zero (Ridge, the boosting models) only
run on a log-price target (`TransformedTargetRegressor` with log/exp), so no candidate can
predict a price of zero or less. Forests average training prices, which are positive.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.ensemble import (
    ExtraTreesRegressor,
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    RandomForestRegressor,
)
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_absolute_error
from sklearn.model_selection import RepeatedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from kosprice.features import CATEGORICAL_FEATURES

FOLDS = 5
REPEATS = 3
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Candidate:
    """One model family with fixed hyper-parameters, on a raw or log-price target."""

    name: str
    make: Callable[[int], Any] = field(repr=False, compare=False)
    """The regressor, given the seed."""
    log_target: bool = False


def _forest(cls, trees: int = 150, **params) -> Callable[[int], Any]:
    return lambda seed: cls(n_estimators=trees, random_state=seed, n_jobs=1, **params)


CANDIDATES: dict[str, Candidate] = {c.name: c for c in (
    # Raw-target models kept for explicit use (`--model`) and for the shipped v1.0.0 models.
    Candidate("ridge", lambda seed: Ridge(alpha=1.0)),
    Candidate("random_forest", _forest(RandomForestRegressor, 200, min_samples_leaf=2)),
    Candidate("gradient_boosting", lambda seed: GradientBoostingRegressor(
        n_estimators=300, learning_rate=0.05, max_depth=3, subsample=0.8, random_state=seed)),
    # The search grid: small on purpose (2 shared cores), each a different bias.
    Candidate("ridge_log", lambda seed: Ridge(alpha=1.0), log_target=True),
    Candidate("random_forest_log", _forest(RandomForestRegressor, min_samples_leaf=2,
                                           max_features=0.6), log_target=True),
    Candidate("random_forest_subset", _forest(RandomForestRegressor, min_samples_leaf=2,
                                              max_features=0.6)),
    Candidate("extra_trees", _forest(ExtraTreesRegressor, min_samples_leaf=3)),
    Candidate("extra_trees_log", _forest(ExtraTreesRegressor, min_samples_leaf=3),
              log_target=True),
    Candidate("gradient_boosting_log", lambda seed: GradientBoostingRegressor(
        n_estimators=300, learning_rate=0.05, max_depth=3, subsample=0.8, random_state=seed),
        log_target=True),
    Candidate("hist_gradient_boosting_log", lambda seed: HistGradientBoostingRegressor(
        max_iter=200, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=10,
        l2_regularization=1.0, random_state=seed), log_target=True),
    # Fully grown trees on half the features: lower CV MAE than the leaf-2 forests in
    # jakarta_pusat, jakarta_selatan and jakarta_utara (docs/model-quality.md).
    Candidate("random_forest_deep", _forest(RandomForestRegressor, 200, min_samples_leaf=1,
                                            max_features=0.5)),
    Candidate("random_forest_log_deep", _forest(RandomForestRegressor, 200, min_samples_leaf=1,
                                                max_features=0.5), log_target=True),
)}
SEARCH_GRID: tuple[str, ...] = (
    "ridge_log", "random_forest_subset", "random_forest_log", "random_forest_deep",
    "random_forest_log_deep", "gradient_boosting_log", "hist_gradient_boosting_log",
)
"""Candidates `kosprice train` compares by default (none can predict a price <= 0)."""


def build_pipeline(candidate: Candidate | str, features: Sequence[str], seed: int) -> Pipeline:
    """The scaling + one-hot preprocessing, then the candidate's regressor."""
    if isinstance(candidate, str):
        candidate = CANDIDATES[candidate]
    categorical = [c for c in features if c in CATEGORICAL_FEATURES]
    numeric = [c for c in features if c not in categorical]
    preprocess = ColumnTransformer(
        [("numeric", StandardScaler(), numeric),
         ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical)],
        verbose_feature_names_out=False,
    )
    regressor = candidate.make(seed)
    if candidate.log_target:
        regressor = TransformedTargetRegressor(regressor=regressor, func=np.log,
                                               inverse_func=np.exp)
    return Pipeline([("preprocess", preprocess), ("estimator", regressor)])


@dataclass(frozen=True)
class CandidateScore:
    name: str
    fold_maes: list[float]
    seconds: float

    @property
    def mean(self) -> float:
        return float(np.mean(self.fold_maes))

    @property
    def sd(self) -> float:
        return float(np.std(self.fold_maes, ddof=1)) if len(self.fold_maes) > 1 else 0.0

    def summary(self) -> dict[str, Any]:
        return {"candidate": self.name, "cv_mae_mean": self.mean, "cv_mae_sd": self.sd,
                "folds": len(self.fold_maes), "seconds": round(self.seconds, 2)}


@dataclass
class SearchResult:
    chosen: str
    scores: list[CandidateScore]
    out_of_fold: np.ndarray = field(repr=False)
    """The chosen candidate's out-of-fold predictions: one row per (repeat, training row)."""
    out_of_fold_actual: np.ndarray = field(repr=False)
    folds: int = FOLDS
    repeats: int = REPEATS
    seconds: float = 0.0

    @property
    def best(self) -> CandidateScore:
        return next(s for s in self.scores if s.name == self.chosen)

    def summary(self, seed: int) -> dict[str, Any]:
        """The protocol and every candidate's score, for metadata and the report."""
        return {"method": f"repeated K-fold on the training rows ({self.repeats} x "
                          f"{self.folds}-fold), lowest mean MAE wins",
                "folds": self.folds, "repeats": self.repeats, "seed": seed,
                "chosen": self.chosen, "cv_mae_mean": self.best.mean,
                "cv_mae_sd": self.best.sd, "seconds": round(self.seconds, 2),
                "candidates": [s.summary() for s in self.scores]}


def cross_validate(name: str, x: pd.DataFrame, y: pd.Series, features: Sequence[str],
                   seed: int, folds: int = FOLDS, repeats: int = REPEATS,
                   ) -> tuple[CandidateScore, np.ndarray, np.ndarray]:
    """Score one candidate by repeated K-fold; return it with out-of-fold predictions."""
    started = time.perf_counter()
    splitter = RepeatedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    maes, predicted, actual = [], [], []
    for train_rows, test_rows in splitter.split(x):
        model = build_pipeline(name, features, seed).fit(x.iloc[train_rows], y.iloc[train_rows])
        prediction = model.predict(x.iloc[test_rows])
        maes.append(float(mean_absolute_error(y.iloc[test_rows], prediction)))
        predicted.append(prediction)
        actual.append(y.iloc[test_rows].to_numpy())
    score = CandidateScore(name, maes, time.perf_counter() - started)
    return score, np.concatenate(predicted), np.concatenate(actual)


def search(x: pd.DataFrame, y: pd.Series, features: Sequence[str], seed: int,
           candidates: Sequence[str] = SEARCH_GRID, folds: int = FOLDS,
           repeats: int = REPEATS, progress: Progress = lambda _: None) -> SearchResult:
    """Cross-validate each candidate on (x, y), the training rows; choose the lowest MAE."""
    started = time.perf_counter()
    scores, predictions = [], {}
    for number, name in enumerate(candidates, 1):
        # One thread: HistGradientBoosting's OpenMP threads crawl on a shared, loaded machine.
        with threadpool_limits(1):
            score, predicted, actual = cross_validate(name, x, y, features, seed, folds,
                                                      repeats)
        scores.append(score)
        predictions[name] = predicted
        progress(f"[{number}/{len(candidates)}] {name}: CV MAE {score.mean:,.0f} "
                 f"± {score.sd:,.0f} ({score.seconds:.1f}s)")
    best = min(scores, key=lambda s: s.mean)  # min keeps the first of equal scores
    return SearchResult(best.name, scores, predictions[best.name], actual, folds, repeats,
                        time.perf_counter() - started)
