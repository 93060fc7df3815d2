"""How to predict: turn validated listings into model inputs and call the model.

The one place the service calls `estimator.predict`; a faster inference path replaces this
module's internals, not its callers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import pandas as pd

from kosprice.features import derive
from kosprice.ml.repository import LoadedModel


def model_frame(listings: Iterable[Mapping[str, object]], features: Sequence[str]) -> pd.DataFrame:
    """Return the model's input rows, derived features computed, columns in model order."""
    return pd.DataFrame([derive(listing, features) for listing in listings], columns=features)


def predict(model: LoadedModel, listings: Sequence[Mapping[str, object]]) -> list[float]:
    """Return the predicted monthly price (Rupiah) of each listing."""
    predictions = model.estimator.predict(model_frame(listings, model.features))
    return [float(value) for value in predictions]
