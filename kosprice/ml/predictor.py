"""How to predict: turn validated listings into model inputs and call the model.

The one place the service calls a model. `prepare(model)` builds the fast path from the
loaded `model.pkl` (the governed artifact; nothing derived is stored) and proves it exact
on check rows; a model it does not cover, or whose fast path disagrees, keeps being served
through the scikit-learn Pipeline, with a warning logged and shown in `/models/{region}`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from kosprice.features import derive
from kosprice.logging import get_logger
from kosprice.ml.exactness import RELATIVE_TOLERANCE, verify
from kosprice.ml.fastpath import FastModel, TitleRouted, Unsupported, compile_pipeline
from kosprice.ml.repository import LoadedModel

log = get_logger("kosprice.predictor")


@dataclass(frozen=True)
class Inference:
    """How a loaded model is evaluated, and why."""

    engine: str  # "fast" or "sklearn"
    fast: FastModel | TitleRouted | None = None
    family: str | None = None
    checked_rows: int = 0
    max_relative_error: float | None = None
    warning: str | None = None
    build_ms: float = 0.0

    def describe(self) -> dict[str, Any]:
        return {"engine": self.engine, "family": self.family,
                "checked_rows": self.checked_rows,
                "max_relative_error": self.max_relative_error,
                "tolerance": RELATIVE_TOLERANCE, "warning": self.warning,
                "build_ms": round(self.build_ms, 1)}


def model_frame(listings: Iterable[Mapping[str, object]], features: Sequence[str]) -> pd.DataFrame:
    """Return the model's input rows, derived features computed, columns in model order."""
    return pd.DataFrame([derive(listing, features) for listing in listings], columns=features)


def build_inference(model: LoadedModel, extra: Sequence[Mapping] = ()) -> Inference:
    """Build and check the fast path of a model; a scikit-learn Inference when it can't be."""
    started = time.perf_counter()
    try:
        fast = compile_pipeline(model.estimator, model.features)
        verdict = verify(fast, model.estimator, model.features, extra)
    except Unsupported as exc:
        reason = f"no fast path for this model ({exc})"
        return _fallback(model, reason, started)
    except Exception as exc:  # noqa: BLE001 - a fast path that cannot be built is not served
        return _fallback(model, f"fast path failed to build ({type(exc).__name__}: {exc})",
                         started)
    if not verdict.exact:
        return _fallback(model, f"fast path disagrees with scikit-learn on {verdict.mismatches} "
                         f"of {verdict.rows} check rows (max relative error "
                         f"{verdict.max_relative_error:.3g})", started, verdict.rows)
    return Inference("fast", fast, fast.family, verdict.rows, verdict.max_relative_error,
                     build_ms=(time.perf_counter() - started) * 1000)


def _fallback(model: LoadedModel, reason: str, started: float, rows: int = 0) -> Inference:
    log.warning("serving through scikit-learn", region=model.region,
                model_version=str(model.version), reason=reason)
    return Inference("sklearn", checked_rows=rows, warning=reason,
                     build_ms=(time.perf_counter() - started) * 1000)


def prepare(model: LoadedModel) -> LoadedModel:
    """Return the model with its (checked) inference path attached."""
    if model.inference is not None:
        return model
    return dataclasses.replace(model, inference=build_inference(model))


def describe(model: LoadedModel) -> dict[str, Any]:
    inference = model.inference or Inference("sklearn", warning="fast path not prepared")
    return inference.describe()


def predict(model: LoadedModel, listings: Sequence[Mapping[str, object]]) -> list[float]:
    """Return the predicted monthly price (Rupiah) of each listing."""
    inference = model.inference
    if inference is not None and inference.fast is not None:
        predictions = inference.fast.predict(listings)
    else:
        predictions = model.estimator.predict(model_frame(listings, model.features))
    return [float(value) for value in predictions]
