"""How to predict: turn validated listings into model inputs and call the model.

The one place that calls `estimator.predict`; a faster inference path replaces this module's
internals, not its callers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from kosprice.features import derive
from kosprice.ml.repository import LoadedModel


def predict(model: LoadedModel, listings: Sequence[Mapping[str, object]]) -> list[float]:
    """Return the predicted monthly price (Rupiah) of each listing."""
    rows = [derive(listing, model.features) for listing in listings]
    frame = pd.DataFrame(rows, columns=model.features)
    return [float(value) for value in model.estimator.predict(frame)]
