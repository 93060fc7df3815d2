"""Training a candidate: fit on a CSV, compare with production, version it, write it.

The slow part (model search and fit) runs outside the lifecycle lock; the version number is
chosen and the folder written under it, so two trainings at once never pick the same number.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kosprice.errors import LifecycleError
from kosprice.ml import evaluation, training
from kosprice.ml.actions import Candidate
from kosprice.ml.artifact import save_version
from kosprice.ml.comparison import HOLDOUT_FILE, Comparison, compare
from kosprice.ml.repository import ModelRepository
from kosprice.ml.training import TrainingResult
from kosprice.ml.versioning import choose_version, override_reason
from kosprice.ml.versions import Bump, Version

if TYPE_CHECKING:
    from kosprice.ml.lifecycle import Lifecycle


def train_candidate(lifecycle: Lifecycle, region: str, data: Path, *, out: Path | None = None,
                    bump: Bump | None = None, reason: str | None = None,
                    **options: Any) -> Candidate:
    """Train on a CSV, compare with production, and write the candidate with its version.

    `out` (default: the candidates directory) is never inside models/ or the archive;
    `options` go to kosprice.ml.training.train (estimator_name, seed, progress).
    """
    root = out or lifecycle.candidates.root
    for name, governed in (("models", lifecycle.production.root),
                           ("archive", lifecycle.archive.root)):
        if Path(root).resolve().is_relative_to(Path(governed).resolve()):
            raise LifecycleError(
                f"candidates never go into the {name} directory ({governed}): write them "
                "to the candidates directory and promote them with `kosprice promote`")
    override_reason(bump, reason)  # before the slow part
    fixed = lifecycle.evaluation_set(region)
    held_out = fixed.row_ids if fixed is not None else frozenset()
    result = training.train(region, data, held_out=held_out, **options)
    if fixed is not None:
        listings = training.read_listings(data)[0]
        result.metadata["data_shift"] = {
            "evaluation_sha256": fixed.sha256, "rows": len(listings),
            "psi": evaluation.shift(listings, fixed.entry.get("reference", {}))}
    production = lifecycle.baseline(region)
    comparison = compare(region, result.model, result.metadata, result.holdout, production,
                         fixed)
    return save_candidate(lifecycle, result, comparison, production.version, root, bump, reason)


def save_candidate(lifecycle: Lifecycle, result: TrainingResult, comparison: Comparison,
                   production_version: Version | None, root: Path,
                   bump: Bump | None = None, reason: str | None = None) -> Candidate:
    """Give a trained model its version and write it under root, under the lock."""
    region = comparison.region
    with lifecycle.journal.locked() as recovered:
        serving = lifecycle.production.serving_version(region)
        if serving != production_version:
            raise LifecycleError(f"production {region} changed while training (now "
                                 f"{serving}); train again")
        version, versioning = choose_version(comparison, production_version,
                                             lifecycle.used_versions(region, root), bump, reason)
        result.metadata["model_version"] = str(version)
        result.metadata["versioning"] = versioning
        target = ModelRepository(root).version_dir(region, version)
        try:
            folder = save_version(target, result.model, result.metadata,
                                  [(HOLDOUT_FILE, result.holdout.to_csv(index=False).encode())])
        except FileExistsError:
            raise LifecycleError(f"{target} already exists (written by something outside "
                                 "the lifecycle lock); nothing was overwritten, train "
                                 "again") from None
    named = replace(comparison, candidate=replace(comparison.candidate, version=str(version)))
    return Candidate(folder, result.metadata, named, recovered)
