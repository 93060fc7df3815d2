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

The parts: `encoder` (the ColumnTransformer), `regressors` (one class per regressor family),
`model` (the two put together, with the target transform's inverse).
"""

from kosprice.ml.fastpath.model import FastModel, TitleRouted, compile_pipeline
from kosprice.ml.fastpath.regressors import SMALL_BATCH
from kosprice.ml.fastpath.unsupported import Unsupported

__all__ = ["SMALL_BATCH", "FastModel", "TitleRouted", "Unsupported", "compile_pipeline"]
