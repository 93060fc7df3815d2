"""Candidate vs production, scored on the same rows: the region's fixed evaluation set.

Both are scored on rows the candidate did not choose (kosprice.ml.evaluation), never compared
through two metadata files whose metrics came from different rows. Two checks look at the
candidate's own data: its held-out rows against the region's reference distribution (PSI), and
production's error on them against production's recorded error. A large shift is reported as
`shift`, and promotion then needs --force. `holdout.csv` holds every catalogue input column, so
a column the candidate's cleaning dropped is still there for production.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kosprice.errors import LifecycleError
from kosprice.features import FEATURES, TARGET
from kosprice.ml.evaluation import LARGE_ERROR_RATIO, LARGE_PSI, EvaluationSet, shift
from kosprice.ml.repository import LoadedModel
from kosprice.ml.training import model_inputs, score
from kosprice.ml.versions import FIRST, Bump, Version

HOLDOUT_FILE = "holdout.csv"
BOOTSTRAP_RESAMPLES = 4000
BOOTSTRAP_LEVEL = 0.95


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
    basis: str = "the candidate's held-out rows"
    """The rows both were scored on."""
    shift: tuple[str, ...] = ()
    """Large differences between the candidate's data and the region's (each a sentence)."""
    evaluation_sha256: str | None = None

    @property
    def worse(self) -> bool:
        """True when the verdict needs --force: worse MAE, or no like-for-like score."""
        return self.verdict in {"worse", "incomparable"}

    @property
    def needs_force(self) -> bool:
        """True when promoting needs --force: worse, incomparable, or a large data shift."""
        return self.worse or bool(self.shift)

    def mae_difference_interval(self) -> tuple[float, float] | None:
        """A paired bootstrap interval of MAE(candidate) - MAE(production) on these rows.

        The verdict compares two MAEs on ~100 rows; refitting the same forest with its rows in
        another order moves its MAE by 4-15k. An interval that holds 0 says the difference may
        be that noise. Informative only: the verdict and the bump rule do not read it.
        """
        if self.production is None or self.rows < 2:
            return None
        gain = (np.abs(self.candidate.predictions - self.actual)
                - np.abs(self.production.predictions - self.actual))
        rng = np.random.default_rng(0)  # seeded: the same rows give the same interval
        resampled = gain[rng.integers(0, len(gain), (BOOTSTRAP_RESAMPLES, len(gain)))]
        tail = (1 - BOOTSTRAP_LEVEL) / 2
        low, high = np.quantile(resampled.mean(axis=1), [tail, 1 - tail])
        return float(low), float(high)

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


def data_shift(metadata: dict[str, Any], holdout: pd.DataFrame,
               evaluation: EvaluationSet | None, production: LoadedModel | None) -> list[str]:
    """The large shifts between the candidate's data and the region's.

    PSI of the training data against the region's reference, as training recorded it
    (`data_shift`, computed on every row of the CSV) when it was measured against this
    evaluation set, else on the candidate's held-out rows; and production's MAE on the
    held-out rows against its recorded MAE.
    """
    found = []
    if evaluation is not None:
        recorded = metadata.get("data_shift") or {}
        if recorded.get("evaluation_sha256") == evaluation.sha256:
            psi, rows = recorded["psi"], f"its {recorded['rows']} training rows"
        else:
            psi = shift(holdout, evaluation.entry.get("reference", {}))
            rows = f"its {len(holdout)} held-out rows"
        large = {c: v for c, v in psi.items() if v > LARGE_PSI}
        if large:
            found.append(f"the candidate's data ({rows}) differs from the region's reference "
                         "distribution (PSI " + ", ".join(f"{c} {v:.2f}" for c, v in
                                                          sorted(large.items()))
                         + f"; above {LARGE_PSI} is a large shift)")
    if production is not None:
        try:
            own = evaluate(production.estimator, production.metadata, holdout, None)
        except LifecycleError:
            return found
        recorded_mae = float(production.metadata["metrics"]["mae"])
        if own.metrics["mae"] > LARGE_ERROR_RATIO * recorded_mae:
            found.append(f"production {production.version}'s MAE on the candidate's "
                         f"{len(holdout)} held-out rows is {own.metrics['mae']:,.0f}, "
                         f"{own.metrics['mae'] / recorded_mae:.1f}x its recorded "
                         f"{recorded_mae:,.0f}: those rows are not like the region's")
    return found


def compare(region: str, estimator: Any, metadata: dict[str, Any], holdout: pd.DataFrame,
            production: Baseline, evaluation: EvaluationSet | None = None) -> Comparison:
    """Score candidate and production on the region's evaluation set; judge by MAE.

    Without an evaluation set the candidate is scored on its held-out rows and, when there
    is a production model, the verdict is `incomparable`.
    """
    scored = evaluation is not None and evaluation.rows is not None
    rows = evaluation.rows if scored else holdout
    actual = rows[TARGET].astype(float).to_numpy()
    candidate = evaluate(estimator, metadata, rows, metadata.get("model_version"))
    shifted = tuple(data_shift(metadata, holdout, evaluation, production.model))

    def judged(verdict: str, why: str, current: Evaluation | None = None,
               bump: Bump | None = None) -> Comparison:
        basis = evaluation.describe() if scored else "the candidate's held-out rows"
        return Comparison(region, len(rows), actual, candidate, current, verdict, bump, why,
                          basis, shifted, evaluation.sha256 if scored else None)

    if production.version is None:
        return judged("first model", f"no production model for {region}: the first version "
                      f"is {FIRST}")
    if production.model is None:
        return judged(
            "incomparable",
            f"production {production.version} cannot be loaded, so it cannot be re-scored on "
            f"the same rows ({production.problem}); the version still follows "
            f"{production.version}: declare the bump with --bump (major after a scikit-learn "
            "upgrade) and --reason, and promote with --force")
    loaded = production.model
    type_changed = model_kind(metadata) != model_kind(loaded.metadata)
    if evaluation is None:
        return judged("incomparable", f"{region} has no evaluation set, so candidate and "
                      "production cannot be scored on rows the candidate did not choose; build "
                      "one with `kosprice evaluation-set`", bump="major" if type_changed else None)
    if not scored:
        return judged("incomparable", f"{evaluation.describe()} cannot be read, so candidate "
                      f"and production are not scored on it ({evaluation.unavailable})",
                      bump="major" if type_changed else None)
    try:
        current = evaluate(loaded.estimator, loaded.metadata, rows, str(loaded.version))
    except LifecycleError as exc:
        return judged("incomparable", f"production {loaded.version} cannot be scored on "
                      f"{evaluation.describe()} ({exc.message})",
                      bump="major" if type_changed else None)
    new, old = candidate.metrics["mae"], current.metrics["mae"]
    # Equal within rounding: the same model refitted on the same rows is not "better".
    verdict = ("equal" if math.isclose(new, old, rel_tol=1e-9)
               else "better" if new < old else "worse")
    change = f"MAE {old:,.0f} -> {new:,.0f} ({(new - old) / old:+.1%}) on {evaluation.describe()}"
    if type_changed:
        bump: Bump | None = "major"
        why = (f"model type {model_kind(loaded.metadata)} -> {model_kind(metadata)} "
               f"(MAJOR); {change}")
    elif verdict == "better":
        bump, why = "minor", f"same model type, {change} (MINOR)"
    else:
        bump, why = None, f"same model type and no MAE improvement: {change}"
    return judged(verdict, why, current, bump)
