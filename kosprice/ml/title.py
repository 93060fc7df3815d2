"""Models that read the listing title, and still price a listing sent without one.

Words of a title name the building, its brand and its district ("Kost Singgahsini Malale
Residence Tipe A Kelapa Gading"), which the structured inputs do not. A title model is a
`TitleFallback`: a pipeline with the title's words as features, and its title-less twin (the
same candidate on the structured inputs only) for listings whose title is left out or blank.
Training both on the same rows keeps each as good as it can be; dropping titles at random
from one model's training rows (title dropout) was measured to cost the titled predictions
more than it saved the others (docs/model-quality.md).

The title's words are binary bag-of-words columns (`CountVectorizer(binary=True)`) over the
words seen in at least `MIN_TITLES` training titles: the fast path reproduces them exactly
with the fitted vectorizer's own analyzer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.feature_extraction.text import CountVectorizer

from kosprice.features import NAME_COLUMN

TITLE = NAME_COLUMN
MIN_TITLES = 3
"""A word becomes a feature when at least this many training titles hold it (chosen by CV
among 3, 5 and 8 on the training rows: docs/model-quality.md)."""
WORD = r"(?u)\b[^\W\d_]{2,}\b"
"""A word: two or more letters (numbers such as unit numbers carry no price signal)."""


def title_vectorizer() -> CountVectorizer:
    return CountVectorizer(binary=True, lowercase=True, token_pattern=WORD,
                           min_df=MIN_TITLES, dtype=np.float64)


def has_title(value: object) -> bool:
    """Whether a listing's title can be read: a string with something besides spaces."""
    return isinstance(value, str) and not value.isspace() and value != ""


class TitleFallback(RegressorMixin, BaseEstimator):
    """`with_title` for listings with a title, `without_title` (fitted on the same rows
    without the title column) for the others."""

    def __init__(self, with_title: Any = None, without_title: Any = None) -> None:
        self.with_title = with_title
        self.without_title = without_title

    def fit(self, X: pd.DataFrame, y: Any) -> TitleFallback:
        self.with_title_ = clone(self.with_title).fit(X, y)
        self.without_title_ = clone(self.without_title).fit(X.drop(columns=[TITLE]), y)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = len(X.columns)
        return self

    def titled(self, X: pd.DataFrame) -> np.ndarray:
        return np.fromiter((has_title(v) for v in X[TITLE]), dtype=bool, count=len(X))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        titled = self.titled(X)
        predicted = np.empty(len(X), dtype=np.float64)
        if titled.any():
            predicted[titled] = self.with_title_.predict(X[titled])
        if not titled.all():
            predicted[~titled] = self.without_title_.predict(X[~titled].drop(columns=[TITLE]))
        return predicted


def titled_part(model: Any) -> Any:
    """The model that prices titled listings: the fallback's `with_title_`, else the model."""
    return model.with_title_ if isinstance(model, TitleFallback) else model
