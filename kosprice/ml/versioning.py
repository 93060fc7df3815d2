"""The version rules of a new candidate: pure functions, no folders read or written.

The first version of a region is v1.0.0. After that the bump applies to production's
version: MAJOR when the model type changed, MINOR when MAE improved on the same rows, PATCH
only when the operator declares a fix; an operator's override needs a reason. A version
number ever used (production, candidates, archive, or work in progress) is never reused.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from kosprice.errors import LifecycleError
from kosprice.ml.versions import FIRST, Bump, Version

if TYPE_CHECKING:
    from kosprice.ml.comparison import Comparison


def version_of(name: str) -> Version | None:
    """The version a folder name stands for, dot-names of work in progress included."""
    parts = name.lstrip(".").split(".")
    text = ".".join(parts[:3])
    return Version.parse(text) if Version.is_valid(text) else None


def used_versions(folder_names: Iterable[str]) -> set[Version]:
    """The versions that a region's folder names (from every root) stand for."""
    found = {version_of(name) for name in folder_names}
    return {version for version in found if version is not None}


def override_reason(bump: Bump | None, reason: str | None) -> str | None:
    """The stripped reason for a bump override; refuse an override without one."""
    reason = (reason or "").strip() or None
    if bump and not reason:
        raise LifecycleError("--bump needs --reason: the override is recorded in the metadata")
    return reason


def choose_version(comparison: Comparison, production_version: Version | None,
                   used: set[Version], bump: Bump | None = None,
                   reason: str | None = None) -> tuple[Version, dict[str, Any]]:
    """Apply the bump rules; return the version and the `versioning` record for metadata.

    `bump` overrides the rule and needs a reason. A version in `used` is skipped by bumping
    again the same way.
    """
    reason = override_reason(bump, reason)
    if production_version is None:
        if bump:
            raise LifecycleError(f"{comparison.region} has no production model: the first "
                                 f"version is {FIRST}, there is nothing to bump")
        version, kind, step = FIRST, "initial", "minor"
    else:
        kind = bump or comparison.implied_bump
        if kind is None and comparison.verdict == "incomparable":
            raise LifecycleError(f"{comparison.explanation}. Nothing to version without "
                                 "--bump major|minor|patch and --reason TEXT")
        if kind is None:
            raise LifecycleError(
                f"{comparison.explanation}. Nothing to version: retrain, or declare the change "
                "with --bump patch (a fix) / minor / major and --reason TEXT")
        version, step = production_version.bump(kind), kind
    while version in used:
        version = version.bump(step)
    return version, {
        "bump": kind, "implied_bump": comparison.implied_bump,
        "override": bump is not None and bump != comparison.implied_bump,
        "reason": reason,
        "production_version": None if production_version is None else str(production_version),
        "verdict": comparison.verdict, "rule": comparison.explanation,
        "evaluation_rows": comparison.rows,
    }
