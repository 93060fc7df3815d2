"""The compiled model: encoder, regressor and target inverse of one fitted Pipeline (for a
title model, one per pipeline, with the title deciding which prices a listing)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.pipeline import Pipeline

from kosprice.ml.fastpath.encoder import Encoder
from kosprice.ml.fastpath.regressors import Regressor, regressor_for
from kosprice.ml.fastpath.unsupported import Unsupported
from kosprice.ml.title import TITLE, TitleFallback, has_title

INVERSE_FUNCTIONS: dict[object, Callable[[np.ndarray], np.ndarray]] = {
    None: lambda y: y, np.exp: np.exp, np.expm1: np.expm1}
"""Target transforms whose inverse is applied as is (the same numpy ufunc)."""


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


class TitleRouted:
    """A title model's two fast paths, chosen per listing as `TitleFallback.predict` does."""

    def __init__(self, with_title: FastModel, without_title: FastModel) -> None:
        self.with_title = with_title
        self.without_title = without_title

    @property
    def family(self) -> str:
        return f"{self.with_title.family}+title_fallback"

    def predict(self, listings: Sequence[Mapping[str, object]]) -> np.ndarray:
        titled = np.fromiter((has_title(listing.get(TITLE)) for listing in listings),
                             dtype=bool, count=len(listings))
        if titled.all():
            return self.with_title.predict(listings)
        if not titled.any():
            return self.without_title.predict(listings)
        predicted = np.empty(len(listings), dtype=np.float64)
        for part, rows in ((self.with_title, np.flatnonzero(titled)),
                           (self.without_title, np.flatnonzero(~titled))):
            predicted[rows] = part.predict([listings[i] for i in rows])
        return predicted


def compile_pipeline(model: object, features: Sequence[str]) -> FastModel | TitleRouted:
    """Build the fast path of a fitted model, or raise Unsupported."""
    if isinstance(model, TitleFallback):
        return TitleRouted(compile_pipeline(model.with_title_, features),
                           compile_pipeline(model.without_title_,
                                            [f for f in features if f != TITLE]))
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
    regressor = regressor_for(final)
    if getattr(final, "n_features_in_", encoder.width) != encoder.width:
        raise Unsupported("the regressor's input width differs from the encoder's output")
    return FastModel(encoder, regressor, inverse)


def _inverse(target: TransformedTargetRegressor) -> Callable[[np.ndarray], np.ndarray]:
    transformer = target.transformer_
    inverse = getattr(transformer, "inverse_func", "unknown")
    if (type(transformer).__name__ != "FunctionTransformer" or transformer.inv_kw_args
            or inverse not in INVERSE_FUNCTIONS):
        raise Unsupported("target transform other than log/exp or log1p/expm1")
    return INVERSE_FUNCTIONS[inverse]
