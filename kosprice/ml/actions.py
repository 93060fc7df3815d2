"""What lifecycle actions return, and the small checks they share."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kosprice.errors import LifecycleError
from kosprice.ml.artifact import read_metadata
from kosprice.ml.comparison import Comparison, evaluate
from kosprice.ml.evaluation import EvaluationSet
from kosprice.ml.repository import LoadedModel, Problem, check_version
from kosprice.ml.signing import Signer
from kosprice.ml.versions import Version


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def load_valid(folder: Path, region: str, role: str, signer: Signer | None = None,
               ) -> LoadedModel:
    """Load a version folder after the startup integrity checks, or refuse naming each problem."""
    problems, model = check_version(folder, region, signer)
    if model is None:
        raise LifecycleError(f"{role} {region} {folder.name} fails the integrity checks: "
                             + "; ".join(f"{p.path.name}: {p.reason}" for p in problems))
    return model


def approval(approved_by: str, reason: str, what: str) -> tuple[str, str]:
    """The stripped approver and reason; refuse an action without both."""
    approved_by, reason = approved_by.strip(), reason.strip()
    if not approved_by or not reason:
        raise LifecycleError(f"{what} needs --approved-by and a --reason")
    return approved_by, reason


@dataclass(frozen=True)
class Candidate:
    """A trained candidate, written to disk with its version."""

    folder: Path
    metadata: dict[str, Any]
    comparison: Comparison
    """The candidate (with its new version) against production, on its held-out rows."""
    recovered: list[str] = field(default_factory=list)
    """Interrupted actions completed before the version was chosen."""


@dataclass(frozen=True)
class ActionResult:
    """What a promote, rollback or retire did."""

    record: dict[str, Any]
    """The audit record appended for it."""
    recovered: list[str] = field(default_factory=list)
    """Interrupted actions completed before it."""
    problems: list[Problem] = field(default_factory=list)
    """Production versions of the region that still fail validation (after a retire)."""


@dataclass(frozen=True)
class VersionListing:
    region: str
    production: list[Version]
    newest: Version | None
    """Production's newest version on disk: what the next (re)load serves."""
    pinned: Version | None
    """What the running server pinned when it last validated; None without a manifest."""
    candidates: list[Version]
    archived: list[Version]


def same_rows_metrics(fixed: EvaluationSet | None, serving_dir: Path,
                      kept: LoadedModel) -> dict[str, Any]:
    """The audit metrics of a rollback or retire: the serving version (in `serving_dir`) and
    the version kept, both scored on the evaluation set (None: it cannot be scored).

    Without a usable set, each version's recorded metrics, marked as measured on other rows.
    """
    if fixed is None:
        try:  # the version rolled back may be broken: that must not block the rollback
            recorded = read_metadata(serving_dir)["metrics"]
        except (OSError, ValueError, KeyError):
            recorded = None
        return {"evaluated_on": "each version's own held-out rows", "same_rows": False,
                "from": recorded, "to": kept.metadata["metrics"]}
    old = kept if serving_dir.name == str(kept.version) else check_version(
        serving_dir, kept.region)[1]

    def scored(model: LoadedModel | None) -> dict[str, float] | None:
        try:
            return None if model is None else evaluate(
                model.estimator, model.metadata, fixed.rows, str(model.version)).metrics
        except LifecycleError:
            return None
    return {"evaluated_on": fixed.describe(), "same_rows": True,
            "evaluation_sha256": fixed.sha256, "from": scored(old), "to": scored(kept)}
