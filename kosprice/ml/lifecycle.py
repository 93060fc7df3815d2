"""The model lifecycle: train a candidate, compare, promote, roll back, retire, list.

The governed path is: `train_candidate` writes a candidate, `compare` scores it and
production on the region's fixed evaluation set (kosprice.ml.evaluation), a person approves,
`promote` copies the candidate into production, and a graceful reload serves it. Nothing
here promotes on its own. Every action runs under the lifecycle lock after recovering
interrupted ones (kosprice.ml.journal: the crash protocol) and returns what it recovered.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pandas as pd

from kosprice.errors import LifecycleError
from kosprice.ml import candidate_training, evaluation, evaluation_change
from kosprice.ml.actions import (
    ActionResult,
    Candidate,
    VersionListing,
    approval,
    load_valid,
    same_rows_metrics,
    utc_now,
)
from kosprice.ml.audit import append_audit, read_audit
from kosprice.ml.comparison import Baseline, Comparison, compare, read_holdout
from kosprice.ml.evaluation import EvaluationDataError, EvaluationSet
from kosprice.ml.journal import Journal, folder_names
from kosprice.ml.registry import read_manifest
from kosprice.ml.report import REPORT_DIR, write_report
from kosprice.ml.repository import LoadedModel, ModelRepository, Problem, check_version
from kosprice.ml.signing import Signer
from kosprice.ml.training import TrainingResult
from kosprice.ml.versioning import used_versions
from kosprice.ml.versions import Bump, Version
from kosprice.settings import Settings


class Lifecycle:
    """Candidates, production and archive of every region, and the actions between them."""

    def __init__(self, models_dir: Path, candidates_dir: Path, archive_dir: Path,
                 audit_log: Path, serving_manifest: Path | None = None,
                 signer: Signer | None = None, data_dir: Path | None = None) -> None:
        self.production = ModelRepository(models_dir)
        self.candidates = ModelRepository(candidates_dir)
        self.archive = ModelRepository(archive_dir)
        self.audit_log = Path(audit_log)
        self.serving_manifest = None if serving_manifest is None else Path(serving_manifest)
        self.journal = Journal(self.production, self.archive, self.audit_log)
        self.signer = signer
        """With a signing key: promote signs, and production versions must be signed."""
        self.data_dir = None if data_dir is None else Path(data_dir)
        """The listings folder the evaluation sets' rows are read from."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Lifecycle:
        return cls(settings.models_dir, settings.candidates_dir, settings.archive_dir,
                   settings.audit_log, settings.serving_manifest_path,
                   Signer.from_settings(settings), settings.data_dir)

    @property
    def models_dir(self) -> Path:
        return self.production.root

    # reading

    def used_versions(self, region: str, *extra_roots: Path) -> set[Version]:
        """Every version number that production, candidates or archive has ever held."""
        roots = [self.production.root, self.candidates.root, self.archive.root, *extra_roots]
        return used_versions(name for root in roots for name in folder_names(Path(root) / region))

    def baseline(self, region: str) -> Baseline:
        """Production's serving version of a region, loaded when it passes validation.

        A version that fails validation (e.g. after a scikit-learn upgrade) is reported, not
        raised: its replacement must still be trainable, comparable and promotable.
        """
        version = self.production.serving_version(region)
        if version is None:
            return Baseline(None)
        try:
            return Baseline(version, load_valid(self.production.version_dir(region, version),
                                                region, "production", self.signer))
        except LifecycleError as exc:
            return Baseline(version, problem=exc.message)

    def evaluation_set(self, region: str, force: bool = False) -> EvaluationSet | None:
        """The region's fixed evaluation set, read from the listings and checksum-verified;
        None when it has none. `force`: listings missing or changed leave it unscored."""
        return evaluation.load(self.production.root, region, self.data_dir, force)

    def usable_evaluation_set(self, region: str) -> EvaluationSet | None:
        try:
            return self.evaluation_set(region)
        except LifecycleError:  # a broken evaluation set must not block a rollback
            return None

    def build_evaluation_set(self, region: str, data: Path, approved_by: str,
                             reason: str) -> ActionResult:
        """Make (or replace) the region's evaluation set: production's held-out rows; audited."""
        return evaluation_change.build_evaluation_set(self, region, data, approved_by, reason)

    def candidate(self, region: str, version: str) -> tuple[LoadedModel, pd.DataFrame]:
        """Load a candidate after the startup integrity checks, with its held-out rows."""
        if not Version.is_valid(version):
            raise LifecycleError(f"{version!r} is not a version of the form vMAJOR.MINOR.PATCH")
        folder = self.candidates.version_dir(region, version)
        if not folder.is_dir():
            known = ", ".join(str(v) for v in self.candidates.versions(region)) or "none"
            raise LifecycleError(f"no candidate {region} {version} (candidates: {known})")
        return load_valid(folder, region, "candidate"), read_holdout(folder)

    def compare(self, region: str, version: str) -> tuple[Comparison, list[Path]]:
        """Compare a candidate with production; write the report into the candidate folder."""
        model, holdout = self.candidate(region, version)
        comparison = compare(region, model.estimator, model.metadata, holdout,
                             self.baseline(region), self.evaluation_set(region))
        folder = self.candidates.version_dir(region, version) / REPORT_DIR
        return comparison, write_report(comparison, folder)

    def pinned(self) -> dict[str, Version] | None:
        """The versions the running server pinned after validating; None without a manifest.

        Raises IntegrityError when the manifest cannot be read.
        """
        if self.serving_manifest is None or not self.serving_manifest.is_file():
            return None
        return {region: Version.parse(pin["version"])
                for region, pin in read_manifest(self.serving_manifest).items()
                if Version.is_valid(pin.get("version"))}

    def listing(self, region: str, pinned: dict[str, Version] | None = None) -> VersionListing:
        return VersionListing(region, self.production.versions(region),
                              self.production.serving_version(region),
                              None if pinned is None else pinned.get(region),
                              self.candidates.versions(region), self.archive.versions(region))

    def problems(self, region: str) -> list[Problem]:
        """The integrity problems of every production version of a region (startup's checks)."""
        return [problem for version in self.production.versions(region)
                for problem in check_version(self.production.version_dir(region, version),
                                             region, self.signer)[0]]

    def history(self, region: str | None = None) -> list[dict[str, Any]]:
        return read_audit(self.audit_log, region)

    def pending(self) -> list[Path]:
        """Journals of interrupted actions, which `recover()` (or the next action) completes."""
        return self.journal.pending()

    # acting

    def recover(self) -> list[str]:
        """Complete interrupted actions and sweep abandoned promote folders; say what was done."""
        return self.journal.recover()

    def train_candidate(self, region: str, data: Path, *, out: Path | None = None,
                        bump: Bump | None = None, reason: str | None = None,
                        **options: Any) -> Candidate:
        """Train on a CSV, compare with production, and write the candidate with its version.

        `out` (default: the candidates directory) is never inside models/ or the archive;
        `options` go to kosprice.ml.training.train (estimator_name, seed, progress).
        """
        return candidate_training.train_candidate(self, region, data, out=out, bump=bump,
                                                  reason=reason, **options)

    def save_candidate(self, result: TrainingResult, comparison: Comparison,
                       production_version: Version | None, root: Path,
                       bump: Bump | None = None, reason: str | None = None) -> Candidate:
        """Give a trained model its version and write it under root, under the lock."""
        return candidate_training.save_candidate(self, result, comparison, production_version,
                                                 root, bump, reason)

    def promote(self, region: str, version: str, approved_by: str, reason: str,
                force: bool = False) -> ActionResult:
        """Copy a validated, not-worse candidate into production."""
        approved_by, reason = approval(approved_by, reason, "a promotion")
        with self.journal.locked() as recovered:
            model, holdout = self.candidate(region, version)
            serving = self.production.serving_version(region)
            if self.production.version_dir(region, version).exists():
                raise LifecycleError(f"{region} {version} is already in production")
            if self.archive.version_dir(region, version).exists():
                raise LifecycleError(f"{region} {version} was in production before and is "
                                     "archived: version numbers are never reused")
            if serving is not None and model.version <= serving:
                raise LifecycleError(f"{region} {version} would not serve: production serves "
                                     f"{serving}, which is newer; train a new candidate")
            try:
                fixed = self.evaluation_set(region, force)
            except EvaluationDataError as exc:
                raise LifecycleError(f"{exc.message}; or use --force with a --reason to "
                                     "promote without scoring it") from None
            comparison = compare(region, model.estimator, model.metadata, holdout,
                                 self.baseline(region), fixed)
            if comparison.needs_force and not force:
                label = ("worse than production" if comparison.verdict == "worse"
                         else "not comparable with production")
                judged = [f"{label} ({comparison.explanation})"] if comparison.worse else []
                judged += [f"data shift: {'; '.join(comparison.shift)}"] * bool(comparison.shift)
                raise LifecycleError(
                    f"refusing to promote {region} {version}: {'; '.join(judged)}; "
                    "use --force with a --reason to promote it anyway")
            record = {
                "id": uuid.uuid4().hex, "at": utc_now(), "action": "promote", "region": region,
                "from_version": None if serving is None else str(serving),
                "to_version": version, "approved_by": approved_by, "reason": reason,
                "forced": bool(force and comparison.needs_force), "verdict": comparison.verdict,
                "shift": list(comparison.shift),
                "metrics": {
                    "evaluated_on": comparison.basis, "same_rows": True,
                    "evaluation_sha256": comparison.evaluation_sha256,
                    "from": None if comparison.production is None
                    else comparison.production.metrics,
                    "to": comparison.candidate.metrics,
                    "mae_difference_interval": comparison.mae_difference_interval()},
                "model_sha256": model.metadata["model_sha256"],
            }
            staging = self.journal.stage_promotion(
                self.candidates.version_dir(region, version), region, version, record["id"],
                record["model_sha256"], self.signer)
            return ActionResult(self.journal.commit(record, staging), recovered)

    def rollback(self, region: str, approved_by: str, reason: str,
                 to: str | None = None) -> ActionResult:
        """Move the versions newer than `to` (default: the previous one) into the archive."""
        approved_by, reason = approval(approved_by, reason, "a rollback")
        with self.journal.locked() as recovered:
            versions = self.production.versions(region)
            if len(versions) < 2:
                raise LifecycleError(f"refusing to roll back {region}: "
                                     f"{versions[0] if versions else 'no version'} is its only "
                                     "version in production")
            serving = versions[-1]
            if to is None:
                target = versions[-2]
            elif not Version.is_valid(to) or Version.parse(to) not in versions:
                raise LifecycleError(f"{region} {to} is not in production (versions: "
                                     f"{', '.join(str(v) for v in versions)})")
            else:
                target = Version.parse(to)
            if target >= serving:
                raise LifecycleError(f"{region} already serves {serving}; --to must be older")
            model = load_valid(self.production.version_dir(region, target), region,
                               "rollback target", self.signer)
            newer = [v for v in reversed(versions) if v > target]
            record = self._archive(region, "rollback", newer, serving, model, approved_by,
                                   reason)
            return ActionResult(record, recovered)

    def retire(self, region: str, versions: list[str], approved_by: str,
               reason: str) -> ActionResult:
        """Move older, non-serving versions into the archive; the serving version stays.

        The retired versions need not pass validation (after a scikit-learn upgrade they
        cannot), but the serving version must: it is what the region is left with. The
        result lists the region's production versions that still fail validation.
        """
        approved_by, reason = approval(approved_by, reason, "retiring")
        if not versions:
            raise LifecycleError(f"name the {region} version(s) to retire")
        with self.journal.locked() as recovered:
            production = self.production.versions(region)
            unknown = [v for v in versions
                       if not Version.is_valid(v) or Version.parse(v) not in production]
            if unknown:
                raise LifecycleError(f"not in production: {region} {', '.join(unknown)} "
                                     f"(versions: {', '.join(map(str, production)) or 'none'})")
            serving = production[-1]
            retired = sorted({Version.parse(v) for v in versions}, reverse=True)
            if serving in retired:
                raise LifecycleError(f"{region} {serving} is the serving version: retire only "
                                     "older ones (to stop serving it, use rollback)")
            model = load_valid(self.production.version_dir(region, serving), region,
                               "serving version", self.signer)
            record = self._archive(region, "retire", retired, serving, model, approved_by,
                                   reason)
            return ActionResult(record, recovered, self.problems(region))

    def sign(self, region: str, versions: list[str], approved_by: str,
             reason: str) -> ActionResult:
        """Sign production versions (all of the region's when none is named), audited.

        A version is signed only when it passes every other integrity check: a signature
        must never bless a changed artifact.
        """
        if self.signer is None:
            raise LifecycleError("no signing key: set KOSPRICE_SIGNING_KEY or "
                                 "KOSPRICE_SIGNING_KEY_FILE")
        approved_by, reason = approval(approved_by, reason, "signing")
        with self.journal.locked() as recovered:
            production = self.production.versions(region)
            chosen = [Version.parse(v) if Version.is_valid(v) else v for v in versions]
            if unknown := [str(v) for v in chosen if v not in production]:
                raise LifecycleError(f"not in production: {region} {', '.join(unknown)}")
            for version in chosen or production:
                load_valid(self.production.version_dir(region, version), region, "version")
            record = {"id": uuid.uuid4().hex, "at": utc_now(), "action": "sign",
                      "region": region, "signed": [str(v) for v in chosen or production],
                      "key_id": self.signer.key_id, "approved_by": approved_by,
                      "reason": reason}
            self.journal.reserve(record)
            for version in chosen or production:
                self.signer.sign(self.production.version_dir(region, version), region)
            append_audit(self.audit_log, record)
            return ActionResult(record, recovered)

    def _archive(self, region: str, action: str, retired: list[Version], serving: Version,
                 kept: LoadedModel, approved_by: str, reason: str) -> dict[str, Any]:
        """Journal, then carry out, moving `retired` into the archive so `kept` serves."""
        clash = [v for v in retired if self.archive.version_dir(region, v).exists()]
        if clash:
            raise LifecycleError(f"the archive already holds {region} "
                                 f"{', '.join(map(str, clash))}; resolve that by hand")
        return self.journal.commit({
            "id": uuid.uuid4().hex, "at": utc_now(), "action": action, "region": region,
            "from_version": str(serving), "to_version": str(kept.version),
            "approved_by": approved_by, "reason": reason, "forced": False,
            "retired": [str(v) for v in retired],
            "metrics": same_rows_metrics(self.usable_evaluation_set(region),
                                         self.production.version_dir(region, serving), kept),
            "model_sha256": kept.metadata["model_sha256"],
        })
