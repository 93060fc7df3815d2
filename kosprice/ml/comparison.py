"""Candidate vs production, scored on the same rows: the candidate's held-out rows.

Production is re-scored on those rows rather than compared through two metadata files,
whose metrics came from different rows. `holdout.csv` holds every catalogue input column,
so a column the candidate's cleaning dropped is still there for production.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kosprice.errors import LifecycleError
from kosprice.features import FEATURES, TARGET
from kosprice.ml.repository import LoadedModel
from kosprice.ml.training import model_inputs, score
from kosprice.ml.versions import FIRST, Bump, Version

HOLDOUT_FILE = "holdout.csv"


@dataclass(frozen=True)
class Evaluation:
    """One model scored on the comparison's rows."""

    version: str | None
    model_type: str
    params: dict[str, Any]
    features: list[str]
    metrics: dict[str, float]
    predictions: np.ndarray = field(repr=False, compare=False)


@dataclass(frozen=True)
class Comparison:
    """A candidate and production scored on the same held-out rows, with a verdict."""

    region: str
    rows: int
    actual: np.ndarray = field(repr=False, compare=False)
    candidate: Evaluation
    production: Evaluation | None
    verdict: str
    """`first model`, `better`, `equal`, `worse`, or `incomparable`."""
    implied_bump: Bump | None
    explanation: str

    @property
    def worse(self) -> bool:
        """True when promoting would need --force: worse MAE, or no like-for-like score."""
        return self.verdict in {"worse", "incomparable"}

    def param_changes(self) -> dict[str, tuple[Any, Any]]:
        """Parameters whose value differs: name -> (production, candidate)."""
        if self.production is None:
            return {}
        old, new = self.production.params, self.candidate.params
        return {k: (old.get(k), new.get(k)) for k in sorted(set(old) | set(new))
                if old.get(k) != new.get(k)}


def read_holdout(version_dir: Path) -> pd.DataFrame:
    path = version_dir / HOLDOUT_FILE
    if not path.is_file():
        raise LifecycleError(f"{version_dir.name} has no {HOLDOUT_FILE}: it cannot be compared "
                             "with production on the same rows")
    return pd.read_csv(path)


def evaluate(estimator: Any, metadata: dict[str, Any], holdout: pd.DataFrame,
             version: str | None) -> Evaluation:
    """Score a model on the holdout rows; derived features are recomputed for this model."""
    features = list(metadata["features"])
    missing = [f for f in features if not FEATURES[f].derived and f not in holdout.columns]
    if missing:
        raise LifecycleError(f"the evaluation rows lack {', '.join(missing)}, which "
                             f"{version or 'the candidate'} needs")
    predictions = np.asarray(estimator.predict(model_inputs(holdout, features)), dtype=float)
    return Evaluation(version, metadata["model_type"], dict(metadata["params"]), features,
                      score(holdout[TARGET].astype(float), predictions), predictions)


def model_kind(metadata: dict[str, Any]) -> str:
    """The model type with its price target: a change of either is a MAJOR bump."""
    target = metadata.get("target_transform")
    return metadata["model_type"] + (f" on {target} price" if target else "")


@dataclass(frozen=True)
class Baseline:
    """Production's serving version of a region, and its model when it passes validation."""

    version: Version | None
    model: LoadedModel | None = None
    problem: str | None = None
    """Why the model cannot be loaded (e.g. trained with another scikit-learn)."""


def compare(region: str, estimator: Any, metadata: dict[str, Any], holdout: pd.DataFrame,
            production: Baseline) -> Comparison:
    """Score candidate and production on the candidate's held-out rows; judge by MAE."""
    actual = holdout[TARGET].astype(float).to_numpy()
    candidate = evaluate(estimator, metadata, holdout, metadata.get("model_version"))
    if production.version is None:
        return Comparison(region, len(holdout), actual, candidate, None, "first model", None,
                          f"no production model for {region}: the first version is {FIRST}")
    if production.model is None:
        return Comparison(
            region, len(holdout), actual, candidate, None, "incomparable", None,
            f"production {production.version} cannot be loaded, so it cannot be re-scored on "
            f"the candidate's rows ({production.problem}); the version still follows "
            f"{production.version}: declare the bump with --bump (major after a scikit-learn "
            "upgrade) and --reason, and promote with --force")
    loaded = production.model
    type_changed = model_kind(metadata) != model_kind(loaded.metadata)
    try:
        current = evaluate(loaded.estimator, loaded.metadata, holdout, str(loaded.version))
    except LifecycleError as exc:
        return Comparison(region, len(holdout), actual, candidate, None, "incomparable",
                          "major" if type_changed else None,
                          f"production {loaded.version} cannot be scored on the "
                          f"candidate's rows ({exc.message})")
    new, old = candidate.metrics["mae"], current.metrics["mae"]
    verdict = "better" if new < old else "worse" if new > old else "equal"
    change = f"MAE {old:,.0f} -> {new:,.0f} ({(new - old) / old:+.1%}) on {len(holdout)} rows"
    if type_changed:
        bump: Bump | None = "major"
        why = (f"model type {model_kind(loaded.metadata)} -> {model_kind(metadata)} "
               f"(MAJOR); {change}")
    elif verdict == "better":
        bump, why = "minor", f"same model type, {change} (MINOR)"
    else:
        bump, why = None, f"same model type and no MAE improvement: {change}"
    return Comparison(region, len(holdout), actual, candidate, current, verdict, bump, why)
