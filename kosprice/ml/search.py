"""Model search: candidate pipelines scored by repeated K-fold CV on the training rows only.

The held-out rows never take part: the candidate with the lowest mean CV MAE wins (ties
go to the earlier, simpler candidate), and only then is it fitted on all training rows
and scored once on the held-out rows. Every candidate is seeded, so a search on the same
data and seed chooses the same model with the same scores.

Every candidate is a `Pipeline` of the preprocessing `ColumnTransformer` and one of five
regressors; the ones that could extrapolate below zero (Ridge, the boosting models) only
run on a log-price target (`TransformedTargetRegressor` with log/exp), so no candidate can
predict a price of zero or less. Forests average training prices, which are positive.
A title candidate adds the title's words to the inputs and keeps a title-less twin for
listings sent without one (kosprice.ml.title); its CV scores both, on the same folds.
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

from kosprice.features import CATEGORICAL_FEATURES, TEXT_FEATURES
from kosprice.ml.title import TITLE, TitleFallback, title_vectorizer

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
    title: bool = False
    """Reads the listing title (with a title-less twin for listings without one)."""


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
    # Reading the title's words too (with a title-less twin): 9-36k lower CV MAE than the
    # same candidate without them, in every region (docs/model-quality.md).
    Candidate("ridge_log_title", lambda seed: Ridge(alpha=1.0), log_target=True, title=True),
    Candidate("random_forest_deep_title", _forest(RandomForestRegressor, 200,
                                                  min_samples_leaf=1, max_features=0.5),
              title=True),
    Candidate("random_forest_log_deep_title", _forest(RandomForestRegressor, 200,
                                                      min_samples_leaf=1, max_features=0.5),
              log_target=True, title=True),
)}
SEARCH_GRID: tuple[str, ...] = (
    "ridge_log", "random_forest_subset", "random_forest_log", "random_forest_deep",
    "random_forest_log_deep", "gradient_boosting_log", "hist_gradient_boosting_log",
    "ridge_log_title", "random_forest_deep_title", "random_forest_log_deep_title",
)
"""Candidates `kosprice train` compares by default (none can predict a price <= 0)."""


def _structured(features: Sequence[str]) -> list[str]:
    return [c for c in features if c not in TEXT_FEATURES]


def features_of(candidate: Candidate | str, features: Sequence[str]) -> list[str]:
    """The candidate's input columns: the structured features, and the title if it reads it."""
    if isinstance(candidate, str):
        candidate = CANDIDATES[candidate]
    structured = _structured(features)
    return [*structured, TITLE] if candidate.title else structured


def build_pipeline(candidate: Candidate | str, features: Sequence[str], seed: int,
                   ) -> Pipeline | TitleFallback:
    """The scaling + one-hot preprocessing, then the candidate's regressor (for a title
    candidate: that with the title's words, and its title-less twin)."""
    if isinstance(candidate, str):
        candidate = CANDIDATES[candidate]
    structured = _structured(features)
    if candidate.title:
        return TitleFallback(_pipeline(candidate, [*structured, TITLE], seed),
                             _pipeline(candidate, structured, seed))
    return _pipeline(candidate, structured, seed)


def _pipeline(candidate: Candidate, features: Sequence[str], seed: int) -> Pipeline:
    categorical = [c for c in features if c in CATEGORICAL_FEATURES]
    numeric = [c for c in features if c not in categorical and c != TITLE]
    steps = [("numeric", StandardScaler(), numeric),
             ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical)]
    options = {}
    if TITLE in features:  # one column name, not a list: the vectorizer reads 1-D text
        steps.append(("title", title_vectorizer(), TITLE))
        options["sparse_threshold"] = 0  # word columns are mostly 0: keep the matrix dense
    preprocess = ColumnTransformer(steps, verbose_feature_names_out=False, **options)
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
    fold_maes_without_title: list[float] | None = None
    """A title candidate's MAE per fold on the same rows sent without their titles."""

    @property
    def mean(self) -> float:
        return float(np.mean(self.fold_maes))

    @property
    def sd(self) -> float:
        return float(np.std(self.fold_maes, ddof=1)) if len(self.fold_maes) > 1 else 0.0

    def summary(self) -> dict[str, Any]:
        summary = {"candidate": self.name, "cv_mae_mean": self.mean, "cv_mae_sd": self.sd,
                   "folds": len(self.fold_maes), "seconds": round(self.seconds, 2)}
        if self.fold_maes_without_title is not None:
            summary["cv_mae_without_title_mean"] = float(np.mean(self.fold_maes_without_title))
        return summary


@dataclass(frozen=True)
class OutOfFold:
    """A candidate's out-of-fold predictions: one per (repeat, training row)."""

    predicted: np.ndarray = field(repr=False)
    actual: np.ndarray = field(repr=False)
    without_title: np.ndarray | None = field(default=None, repr=False)
    """A title candidate's predictions for the same rows sent without their titles."""


@dataclass
class SearchResult:
    chosen: str
    scores: list[CandidateScore]
    out_of_fold: OutOfFold
    """The chosen candidate's out-of-fold predictions."""
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
                   ) -> tuple[CandidateScore, OutOfFold]:
    """Score one candidate by repeated K-fold; return it with out-of-fold predictions.

    `x` holds the candidate's columns (`features_of`), and may hold more.
    """
    started = time.perf_counter()
    x = x[features_of(name, features)]
    titled = CANDIDATES[name].title
    splitter = RepeatedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    maes, predicted, actual, untitled_maes, untitled = [], [], [], [], []
    for train_rows, test_rows in splitter.split(x):
        model = build_pipeline(name, features, seed).fit(x.iloc[train_rows], y.iloc[train_rows])
        prediction = model.predict(x.iloc[test_rows])
        maes.append(float(mean_absolute_error(y.iloc[test_rows], prediction)))
        predicted.append(prediction)
        actual.append(y.iloc[test_rows].to_numpy())
        if titled:
            untitled.append(model.predict(x.iloc[test_rows].assign(**{TITLE: ""})))
            untitled_maes.append(float(mean_absolute_error(y.iloc[test_rows], untitled[-1])))
    score = CandidateScore(name, maes, time.perf_counter() - started,
                           untitled_maes if titled else None)
    return score, OutOfFold(np.concatenate(predicted), np.concatenate(actual),
                            np.concatenate(untitled) if titled else None)


def search(x: pd.DataFrame, y: pd.Series, features: Sequence[str], seed: int,
           candidates: Sequence[str] = SEARCH_GRID, folds: int = FOLDS,
           repeats: int = REPEATS, progress: Progress = lambda _: None) -> SearchResult:
    """Cross-validate each candidate on (x, y), the training rows; choose the lowest MAE."""
    started = time.perf_counter()
    scores, predictions = [], {}
    for number, name in enumerate(candidates, 1):
        # One thread: HistGradientBoosting's OpenMP threads crawl on a shared, loaded machine.
        with threadpool_limits(1):
            score, predictions[name] = cross_validate(name, x, y, features, seed, folds,
                                                      repeats)
        scores.append(score)
        untitled = ("" if score.fold_maes_without_title is None else
                    f"; without titles {np.mean(score.fold_maes_without_title):,.0f}")
        progress(f"[{number}/{len(candidates)}] {name}: CV MAE {score.mean:,.0f} "
                 f"± {score.sd:,.0f}{untitled} ({score.seconds:.1f}s)")
    best = min(scores, key=lambda s: s.mean)  # min keeps the first of equal scores
    return SearchResult(best.name, scores, predictions[best.name], folds, repeats,
                        time.perf_counter() - started)
