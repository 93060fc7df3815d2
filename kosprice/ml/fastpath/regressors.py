"""The regressors the fast path covers, one class per family, evaluated on encoded rows.

Linear models are `X @ coef_ + intercept_`. Tree ensembles compare float32-cast inputs
(HistGradientBoosting: float64) against float64 thresholds: up to `SMALL_BATCH` rows all
trees are walked at once in numpy (kosprice.ml.forest), larger batches call each fitted
tree's compiled `predict`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.dummy import DummyRegressor
from sklearn.ensemble import GradientBoostingRegressor, HistGradientBoostingRegressor
from sklearn.ensemble._forest import ForestRegressor
from sklearn.linear_model import (
    ElasticNet,
    ElasticNetCV,
    Lasso,
    LassoCV,
    LinearRegression,
    Ridge,
    RidgeCV,
)

from kosprice.ml.fastpath.unsupported import Unsupported
from kosprice.ml.forest import FlatForest

SMALL_BATCH = 32
"""Up to this many rows the trees are walked in numpy; larger batches call each fitted
tree's compiled `predict` once (its per-call overhead is then spread over many rows)."""

LINEAR_MODELS = (LinearRegression, Ridge, RidgeCV, Lasso, LassoCV, ElasticNet, ElasticNetCV)
"""Regressors whose predict is LinearModel's `X @ coef_ + intercept_`."""


class Regressor:
    """A regressor's prediction on the encoded matrix; `family` names it in /models."""

    family = "unknown"

    def __init__(self, estimator: object) -> None:
        self.estimator = estimator

    def small(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def large(self, X: np.ndarray) -> np.ndarray:
        return self.small(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.small(X) if len(X) <= SMALL_BATCH else self.large(X)


class Linear(Regressor):
    """`X @ coef_ + intercept_`, LinearModel.predict's own expression."""

    family = "linear"

    def small(self, X):
        return X @ self.estimator.coef_ + self.estimator.intercept_


class Forest(Regressor):
    """Mean of the trees (RandomForest, ExtraTrees); X is cast to float32 first."""

    family = "forest"

    def __init__(self, estimator) -> None:
        super().__init__(estimator)
        self.trees = [tree.tree_ for tree in estimator.estimators_]
        self.flat = FlatForest.from_sklearn_trees(self.trees)

    def small(self, X):
        return self.flat.leaf_values(X).sum(axis=1) / len(self.trees)

    def large(self, X):
        # ForestRegressor.predict's accumulation, minus its per-tree dispatch overhead.
        X32 = np.ascontiguousarray(X, dtype=np.float32)
        total = np.zeros(len(X32), dtype=np.float64)
        for tree in self.trees:
            total += tree.predict(X32)[:, 0]
        return total / len(self.trees)


class Boosting(Regressor):
    """GradientBoosting: the init constant plus learning_rate × each stage's leaf."""

    family = "gradient_boosting"

    def __init__(self, estimator) -> None:
        super().__init__(estimator)
        init = estimator.init_
        if isinstance(init, str) and init == "zero":
            self.init = 0.0
        elif type(init) is DummyRegressor and np.size(init.constant_) == 1:
            self.init = float(np.ravel(init.constant_)[0])
        else:
            raise Unsupported(f"gradient boosting init {init!r}")
        if estimator.estimators_.shape[1] != 1:
            raise Unsupported("gradient boosting with several trees per stage")
        self.flat = FlatForest.from_sklearn_trees(
            [tree.tree_ for tree in estimator.estimators_[:, 0]], estimator.learning_rate)

    def small(self, X):
        return self.init + self.flat.leaf_values(X).sum(axis=1)

    def large(self, X):
        return self.estimator.predict(X)  # one compiled call for all stages


class HistBoosting(Regressor):
    """HistGradientBoosting: baseline plus each iteration's leaf, then the inverse link."""

    family = "hist_gradient_boosting"
    LINKS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "squared_error": lambda raw: raw, "absolute_error": lambda raw: raw,
        "quantile": lambda raw: raw, "poisson": np.exp, "gamma": np.exp}

    def __init__(self, estimator) -> None:
        super().__init__(estimator)
        if estimator.n_trees_per_iteration_ != 1 or estimator.loss not in self.LINKS:
            raise Unsupported(f"HistGradientBoosting with loss {estimator.loss!r}")
        self.link = self.LINKS[estimator.loss]
        self.baseline = float(np.ravel(estimator._baseline_prediction)[0])
        try:
            self.flat = FlatForest.from_hist_predictors(
                [stage[0] for stage in estimator._predictors])
        except ValueError as exc:
            raise Unsupported(str(exc)) from None

    def small(self, X):
        return self.link(self.baseline + self.flat.leaf_values(X).sum(axis=1))

    def large(self, X):
        return self.estimator.predict(X)


def regressor_for(estimator: object) -> Regressor:
    """The fast-path class of a fitted regressor, or raise Unsupported."""
    kind = type(estimator)
    if kind in LINEAR_MODELS:
        if np.ndim(estimator.coef_) != 1:
            raise Unsupported("multi-output linear model")
        return Linear(estimator)
    if isinstance(estimator, ForestRegressor) and kind.predict is ForestRegressor.predict:
        if estimator.n_outputs_ != 1:
            raise Unsupported("multi-output forest")
        return Forest(estimator)
    if kind is GradientBoostingRegressor:
        return Boosting(estimator)
    if kind is HistGradientBoostingRegressor:
        return HistBoosting(estimator)
    raise Unsupported(f"regressor {kind.__name__}")
