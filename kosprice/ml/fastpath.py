"""The fast inference path: a fitted Pipeline re-expressed as plain numpy, built at load.

`compile_pipeline(pipeline)` reads the fitted parameters of the shipped model shapes —
`Pipeline([ColumnTransformer(scaler or passthrough, OneHotEncoder), regressor])`, the
regressor optionally a `TransformedTargetRegressor` (or wrapping the whole Pipeline) — and
returns a `FastModel` that prices listing dicts without pandas or scikit-learn's per-call
validation. Anything else raises `Unsupported`; the caller then serves through scikit-learn.

Every arithmetic step is the one scikit-learn performs, in the same dtype: scaling is
`(x - mean_) / scale_` in float64, one-hot columns are 0.0/1.0, tree ensembles compare
float32-cast inputs (HistGradientBoosting: float64) against float64 thresholds. Exactness is
still not assumed: `kosprice.ml.exactness` checks every built model against its Pipeline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
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
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MinMaxScaler,
    OneHotEncoder,
    RobustScaler,
    StandardScaler,
)

from kosprice.features import AMENITY_FLAGS, FEATURES
from kosprice.ml.forest import FlatForest

SMALL_BATCH = 32
"""Up to this many rows the trees are walked in numpy; larger batches call each fitted
tree's compiled `predict` once (its per-call overhead is then spread over many rows)."""

LINEAR_MODELS = (LinearRegression, Ridge, RidgeCV, Lasso, LassoCV, ElasticNet, ElasticNetCV)
"""Regressors whose predict is LinearModel's `X @ coef_ + intercept_`."""

INVERSE_FUNCTIONS: dict[object, Callable[[np.ndarray], np.ndarray]] = {
    None: lambda y: y, np.exp: np.exp, np.expm1: np.expm1}
"""Target transforms whose inverse is applied as is (the same numpy ufunc)."""


class Unsupported(Exception):
    """The model has a shape the fast path does not cover; serve it through scikit-learn."""


# -- preprocessing ------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """One transformer's output columns: numbers transformed affinely, or one-hot codes."""

    inputs: tuple[str, ...]
    kind: str  # "affine" or "onehot"
    shift: np.ndarray | None = None  # affine: (x - shift) / divide * multiply + add
    divide: np.ndarray | None = None
    multiply: np.ndarray | None = None
    add: np.ndarray | None = None
    clip: tuple[float, float] | None = None
    codes: tuple[dict[str, int], ...] = ()  # onehot: category -> column, per input


def _affine_block(transformer: object, inputs: tuple[str, ...]) -> Block:
    n = len(inputs)
    if transformer == "passthrough" or (  # a fitted ColumnTransformer's "passthrough"
            type(transformer) is FunctionTransformer and transformer.func is None):
        return Block(inputs, "affine")
    if type(transformer) is StandardScaler:
        return Block(inputs, "affine",
                     shift=transformer.mean_ if transformer.with_mean else None,
                     divide=transformer.scale_ if transformer.with_std else None)
    if type(transformer) is RobustScaler:
        return Block(inputs, "affine",
                     shift=transformer.center_ if transformer.with_centering else None,
                     divide=transformer.scale_ if transformer.with_scaling else None)
    if type(transformer) is MinMaxScaler:
        return Block(inputs, "affine", multiply=transformer.scale_, add=transformer.min_,
                     clip=tuple(transformer.feature_range) if transformer.clip else None)
    raise Unsupported(f"numeric transformer {type(transformer).__name__} on {n} column(s)")


def _onehot_block(encoder: OneHotEncoder, inputs: tuple[str, ...]) -> Block:
    if encoder.handle_unknown != "ignore" or encoder.drop_idx_ is not None:
        raise Unsupported("OneHotEncoder must use handle_unknown='ignore' and no drop")
    if getattr(encoder, "_infrequent_enabled", False):
        raise Unsupported("OneHotEncoder with infrequent categories")
    codes = []
    for categories in encoder.categories_:
        if not all(isinstance(c, str) for c in categories):
            raise Unsupported("OneHotEncoder categories must be strings")
        codes.append({c: i for i, c in enumerate(categories)})
    return Block(inputs, "onehot", codes=tuple(codes))


class Encoder:
    """A fitted ColumnTransformer, applied to listing dicts."""

    def __init__(self, transformer: ColumnTransformer, features: Sequence[str]) -> None:
        if not isinstance(transformer, ColumnTransformer):
            raise Unsupported(f"preprocessing is a {type(transformer).__name__}")
        self.features = tuple(features)
        self.blocks: list[Block] = []
        for _name, step, columns in transformer.transformers_:
            if step == "drop" or len(columns) == 0:
                continue
            if not all(isinstance(c, str) and c in self.features for c in columns):
                raise Unsupported("ColumnTransformer columns must be feature names")
            inputs = tuple(columns)
            is_onehot = type(step) is OneHotEncoder
            self.blocks.append(_onehot_block(step, inputs) if is_onehot
                               else _affine_block(step, inputs))
        # Numbers are read straight from the listings; amenities_count is derived as
        # features.derive does (the model's own amenity flags, summed), but for all rows at once.
        derived = [f for f in self.features if FEATURES[f].derived]
        if derived not in ([], ["amenities_count"]):
            raise Unsupported(f"derived feature(s) {derived}")
        self.given = tuple(f for f in self.features
                           if not FEATURES[f].derived and FEATURES[f].kind != "category")
        self.amenities = np.array([i for i, f in enumerate(self.given) if f in AMENITY_FLAGS],
                                  dtype=np.intp) if derived else None
        self.numeric = (*self.given, *derived)
        position = {c: i for i, c in enumerate(self.numeric)}
        self._columns = [np.array([position[c] for c in b.inputs], dtype=np.intp)
                         if b.kind == "affine" else None for b in self.blocks]
        self.width = sum(len(b.inputs) if b.kind == "affine"
                         else sum(len(c) for c in b.codes) for b in self.blocks)

    def encode(self, listings: Sequence[Mapping[str, object]]) -> np.ndarray:
        """Return the float64 matrix the Pipeline's regressor would receive."""
        given = self.given
        numbers = np.empty((len(listings), len(self.numeric)), dtype=np.float64)
        numbers[:, :len(given)] = [[listing[c] for c in given] for listing in listings]
        if self.amenities is not None:
            numbers[:, -1] = numbers[:, self.amenities].sum(axis=1)
        parts = []
        for block, columns in zip(self.blocks, self._columns, strict=True):
            if block.kind == "affine":
                parts.append(_affine(block, numbers[:, columns]))
            else:
                parts.append(_onehot(block, listings))
        return np.hstack(parts) if len(parts) > 1 else parts[0]


def _affine(block: Block, x: np.ndarray) -> np.ndarray:
    # The same in-place float64 operations, in the same order, as the scalers' transform.
    if block.shift is not None:
        x -= block.shift
    if block.divide is not None:
        x /= block.divide
    if block.multiply is not None:
        x *= block.multiply
    if block.add is not None:
        x += block.add
    if block.clip is not None:
        np.clip(x, block.clip[0], block.clip[1], out=x)
    return x


def _onehot(block: Block, rows: Sequence[Mapping[str, object]]) -> np.ndarray:
    widths = [len(codes) for codes in block.codes]
    out = np.zeros((len(rows), sum(widths)), dtype=np.float64)
    start = 0
    for name, codes, width in zip(block.inputs, block.codes, widths, strict=True):
        # An unknown category sets no column (handle_unknown="ignore"): all zeros.
        column = np.array([codes.get(row[name], -1) for row in rows], dtype=np.intp)
        known = column >= 0
        out[np.flatnonzero(known), start + column[known]] = 1.0
        start += width
    return out


# -- regressors ---------------------------------------------------------------------------


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


def _regressor(estimator: object) -> Regressor:
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


def _inverse(target: TransformedTargetRegressor) -> Callable[[np.ndarray], np.ndarray]:
    transformer = target.transformer_
    inverse = getattr(transformer, "inverse_func", "unknown")
    if (type(transformer).__name__ != "FunctionTransformer" or transformer.inv_kw_args
            or inverse not in INVERSE_FUNCTIONS):
        raise Unsupported("target transform other than log/exp or log1p/expm1")
    return INVERSE_FUNCTIONS[inverse]


# -- the compiled model -------------------------------------------------------------------


class FastModel:
    """Encoder, regressor and target inverse of one fitted Pipeline."""

    def __init__(self, encoder: Encoder, regressor: Regressor,
                 inverse: Callable[[np.ndarray], np.ndarray] | None) -> None:
        self.encoder = encoder
        self.regressor = regressor
        self.inverse = inverse

    @property
    def family(self) -> str:
        return self.regressor.family + ("+target_transform" if self.inverse else "")

    def predict_matrix(self, X: np.ndarray, small: bool | None = None) -> np.ndarray:
        """Predict encoded rows; `small` forces one evaluation strategy (for the checks)."""
        if small is None:
            y = self.regressor.predict(X)
        else:
            y = self.regressor.small(X) if small else self.regressor.large(X)
        return self.inverse(y) if self.inverse is not None else y

    def predict(self, listings: Sequence[Mapping[str, object]]) -> np.ndarray:
        return self.predict_matrix(self.encoder.encode(listings))


def compile_pipeline(model: object, features: Sequence[str]) -> FastModel:
    """Build the fast path of a fitted model, or raise Unsupported."""
    inverse = None
    if isinstance(model, TransformedTargetRegressor):  # the whole Pipeline wrapped
        inverse, model = _inverse(model), model.regressor_
    if not isinstance(model, Pipeline) or len(model.steps) != 2:
        raise Unsupported("expected a Pipeline of preprocessing and a regressor")
    encoder = Encoder(model.steps[0][1], features)
    final = model.steps[1][1]
    if isinstance(final, TransformedTargetRegressor):
        if inverse is not None:
            raise Unsupported("nested target transforms")
        inverse, final = _inverse(final), final.regressor_
    regressor = _regressor(final)
    if getattr(final, "n_features_in_", encoder.width) != encoder.width:
        raise Unsupported("the regressor's input width differs from the encoder's output")
    return FastModel(encoder, regressor, inverse)
