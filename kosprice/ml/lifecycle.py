"""The model lifecycle: version bump rules, promote, rollback and retire between the folders.

The governed path is: `train` writes a candidate, `compare` re-scores production on the
candidate's held-out rows, a person approves, `promote` copies the candidate into production,
and a graceful reload serves it. Nothing here promotes on its own.

Crash safety: a kill -9 at any instant leaves `models/` passing startup validation, because
`models/{region}/` only ever gains or loses a version folder by one `os.rename`, and every
half-done thing has a dot-name, which the repository ignores. Each action runs in this order:

promote   1. build `models/{region}/.vX.Y.Z.promote-ID` with model.pkl + metadata.json, fsynced
          2. write the journal `models/.pending-{region}.json` (atomically): the commit point
          3. rename the dot-folder to `vX.Y.Z`: production switches here
          4. append the audit record (fsync), unless a record with this ID is already there
          5. remove the journal
rollback  1. write the journal: the commit point
          2. rename each newer folder, newest first, to `.vX.Y.Z.rollback-ID` (still in the
             region folder, so the rename is atomic; each step serves a version that served)
          3. move each hidden folder into the archive (rename, or copy + rename + delete when
             the archive is on another file system)
          4. append the audit record; 5. remove the journal
retire    the same steps as rollback, for older versions the operator names (typically ones
          that no longer load after a scikit-learn upgrade); the serving version stays

A crash before the journal exists leaves production untouched (a stale promote dot-folder is
swept later). A crash after it is rolled forward by `recover()`, which every action runs
first and `make reload` runs before validating: steps 3-5 (promote) or 2-5 (rollback,
retire) are idempotent, and the audit record carries an ID, so the trail holds exactly one
record per completed action.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from kosprice.errors import LifecycleError
from kosprice.features import REGIONS
from kosprice.ml.artifact import (
    METADATA_FILE,
    MODEL_FILE,
    fsync_dir,
    fsync_tree,
    read_metadata,
    save_version,
    sha256_file,
    write_json_atomically,
)
from kosprice.ml.audit import append_audit, last_audit_record, read_audit
from kosprice.ml.comparison import HOLDOUT_FILE, Baseline, Comparison, compare, read_holdout
from kosprice.ml.registry import MANIFEST_FILE, read_manifest
from kosprice.ml.report import REPORT_DIR, write_report
from kosprice.ml.repository import LoadedModel, ModelRepository, Problem, check_version
from kosprice.ml.training import TrainingResult
from kosprice.ml.versions import FIRST, Bump, Version

LOCK_FILE = ".lifecycle.lock"
PAUSE_ENV = "LIFECYCLE_PAUSE_AT"
"""Test hook: the step name at which an action prints a marker and sleeps."""
PAUSE_MARKER = "lifecycle paused at"


def pause_point(step: str) -> None:
    """Stop here when the test hook names this step, so a test can kill the process."""
    if os.environ.get(PAUSE_ENV) == step:
        print(f"{PAUSE_MARKER} {step}", file=sys.stderr, flush=True)
        time.sleep(3600)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- version numbers ------------------------------------------------------------------

def _version_of(name: str) -> Version | None:
    """The version a folder name stands for, dot-names of work in progress included."""
    bare = name.lstrip(".")
    parts = bare.split(".")
    text = ".".join(parts[:3])
    return Version.parse(text) if Version.is_valid(text) else None


def _names(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else []


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

    The first version of a region is v1.0.0. Otherwise the bump applies to production's
    version: MAJOR when the model type changed, MINOR when MAE improved on the same rows,
    PATCH only when the operator declares it; `bump` overrides the rule and needs a reason.
    A version already used anywhere is skipped by bumping again the same way.
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


# --- validated loading ----------------------------------------------------------------

def load_valid(folder: Path, region: str, role: str) -> LoadedModel:
    """Load a version folder after the startup integrity checks, or refuse naming each problem."""
    problems, model = check_version(folder, region)
    if model is None:
        raise LifecycleError(f"{role} {region} {folder.name} fails the integrity checks: "
                             + "; ".join(f"{p.path.name}: {p.reason}" for p in problems))
    return model


# --- moving folders safely ------------------------------------------------------------

def _move_to_archive(source: Path, target: Path) -> None:
    """Move a folder into the archive; across file systems, copy then delete the source."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():  # an earlier, interrupted move already put it there
        shutil.rmtree(source)
        return
    try:
        os.rename(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        tmp = target.with_name(f".{target.name}.archiving")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(source, tmp)
        fsync_tree(tmp)
        os.rename(tmp, target)
        fsync_dir(target.parent)
        shutil.rmtree(source)
    fsync_dir(target.parent)
    fsync_dir(source.parent)


# --- the lifecycle ---------------------------------------------------------------------

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


class Lifecycle:
    """Candidates, production and archive of every region, and the actions between them."""

    def __init__(self, models_dir: Path, candidates_dir: Path, archive_dir: Path,
                 audit_log: Path, serving_manifest: Path | None = None) -> None:
        self.production = ModelRepository(models_dir)
        self.candidates = ModelRepository(candidates_dir)
        self.archive = ModelRepository(archive_dir)
        self.audit_log = Path(audit_log)
        self.serving_manifest = None if serving_manifest is None else Path(serving_manifest)
        self._exclusive = False

    @classmethod
    def from_settings(cls, settings: Any) -> Lifecycle:
        return cls(settings.models_dir, settings.candidates_dir, settings.archive_dir,
                   settings.audit_log,
                   settings.serving_manifest or Path(settings.state_dir, MANIFEST_FILE))

    @property
    def models_dir(self) -> Path:
        return self.production.root

    # reading

    def used_versions(self, region: str, *extra_roots: Path) -> set[Version]:
        """Every version number that production, candidates or archive has ever held."""
        roots = [self.production.root, self.candidates.root, self.archive.root, *extra_roots]
        found = {_version_of(name) for root in roots for name in _names(Path(root) / region)}
        return {v for v in found if v is not None}

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
                                                region, "production"))
        except LifecycleError as exc:
            return Baseline(version, problem=exc.message)

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
                             self.baseline(region))
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
                                             region)[0]]

    def history(self, region: str | None = None) -> list[dict[str, Any]]:
        return read_audit(self.audit_log, region)

    def pending(self) -> list[Path]:
        """Journals of interrupted actions, which `recover()` (or the next action) completes."""
        if not self.models_dir.is_dir():
            return []
        return sorted(self.models_dir.glob(".pending-*.json"))

    # acting

    def save_candidate(self, result: TrainingResult, comparison: Comparison,
                       production_version: Version | None, root: Path,
                       bump: Bump | None = None, reason: str | None = None) -> Path:
        """Give a trained model its version and write it under root; return its folder.

        Under the lock, so two trainings at once never pick the same number.
        """
        region = comparison.region
        with self.exclusive():
            if self.production.serving_version(region) != production_version:
                raise LifecycleError(f"production {region} changed while training (now "
                                     f"{self.production.serving_version(region)}); train again")
            version, versioning = choose_version(comparison, production_version,
                                                 self.used_versions(region, root), bump, reason)
            result.metadata["model_version"] = str(version)
            result.metadata["versioning"] = versioning
            target = ModelRepository(root).version_dir(region, version)
            try:
                return save_version(target, result.model, result.metadata,
                                    [(HOLDOUT_FILE, result.holdout.to_csv(index=False).encode())])
            except FileExistsError:
                raise LifecycleError(f"{target} already exists (written by something outside "
                                     "the lifecycle lock); nothing was overwritten, train "
                                     "again") from None

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[list[str]]:
        """Hold the lifecycle lock, interrupted actions completed first; yield what was done.

        One action at a time per models directory. Re-entrant for this object: actions inside
        an `exclusive()` block share its lock and its single recovery (the CLI prints what
        was recovered before acting, even when the action is then refused).
        """
        if self._exclusive:
            yield []
            return
        self.models_dir.mkdir(parents=True, exist_ok=True)
        with open(self.models_dir / LOCK_FILE, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            self._exclusive = True
            try:
                # Before any new action: a new journal must never replace a pending one.
                yield self._recover()
            finally:
                self._exclusive = False
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _journal(self, region: str) -> Path:
        return self.models_dir / f".pending-{region}.json"

    def promote(self, region: str, version: str, approved_by: str, reason: str,
                force: bool = False) -> dict[str, Any]:
        """Copy a validated, not-worse candidate into production; return the audit record."""
        approved_by, reason = approved_by.strip(), reason.strip()
        if not approved_by or not reason:
            raise LifecycleError("a promotion needs --approved-by and a --reason")
        with self.exclusive():
            model, holdout = self.candidate(region, version)
            target = self.production.version_dir(region, version)
            serving = self.production.serving_version(region)
            if target.exists():
                raise LifecycleError(f"{region} {version} is already in production")
            if self.archive.version_dir(region, version).exists():
                raise LifecycleError(f"{region} {version} was in production before and is "
                                     "archived: version numbers are never reused")
            if serving is not None and model.version <= serving:
                raise LifecycleError(f"{region} {version} would not serve: production serves "
                                     f"{serving}, which is newer; train a new candidate")
            comparison = compare(region, model.estimator, model.metadata, holdout,
                                 self.baseline(region))
            if comparison.worse and not force:
                judged = ("worse than production" if comparison.verdict == "worse"
                          else "not comparable with production")
                raise LifecycleError(
                    f"refusing to promote {region} {version}: {judged} "
                    f"({comparison.explanation}); use --force with a --reason "
                    "to promote it anyway")
            source = self.candidates.version_dir(region, version)
            record = {
                "id": uuid.uuid4().hex, "at": utc_now(), "action": "promote", "region": region,
                "from_version": None if serving is None else str(serving),
                "to_version": version, "approved_by": approved_by, "reason": reason,
                "forced": bool(force and comparison.worse), "verdict": comparison.verdict,
                "metrics": {
                    "evaluated_on": f"{version} held-out rows ({comparison.rows})",
                    "from": None if comparison.production is None
                    else comparison.production.metrics,
                    "to": comparison.candidate.metrics},
                "model_sha256": model.metadata["model_sha256"],
            }
            staging = target.parent / f".{version}.promote-{record['id']}"
            target.parent.mkdir(parents=True, exist_ok=True)
            staging.mkdir()
            for name in (MODEL_FILE, METADATA_FILE):  # never holdout.csv or the report
                shutil.copy2(source / name, staging / name)
            staging.chmod(0o755)
            if sha256_file(staging / MODEL_FILE) != record["model_sha256"]:
                shutil.rmtree(staging)
                raise LifecycleError(f"copy of {region} {version} does not match its sha256")
            fsync_tree(staging)
            fsync_dir(target.parent)
            pause_point("copied")
            write_json_atomically(self._journal(region), {"record": record,
                                                           "staging": staging.name})
            pause_point("journaled")
            self._finish(region)
            return record

    def rollback(self, region: str, approved_by: str, reason: str,
                 to: str | None = None) -> dict[str, Any]:
        """Move the versions newer than `to` (default: the previous one) into the archive."""
        approved_by, reason = approved_by.strip(), reason.strip()
        if not approved_by or not reason:
            raise LifecycleError("a rollback needs --approved-by and a --reason")
        with self.exclusive():
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
                               "rollback target")
            newer = [v for v in reversed(versions) if v > target]
            try:  # the version rolled back may be broken: that must not block the rollback
                old_metrics = read_metadata(self.production.version_dir(region, serving))["metrics"]
            except (OSError, ValueError, KeyError):
                old_metrics = None
            return self._archive(region, "rollback", newer, serving, old_metrics, model,
                                 approved_by, reason)

    def retire(self, region: str, versions: list[str], approved_by: str,
               reason: str) -> dict[str, Any]:
        """Move older, non-serving versions into the archive; the serving version stays.

        The retired versions need not pass validation (after a scikit-learn upgrade they
        cannot), but the serving version must: it is what the region is left with.
        """
        approved_by, reason = approved_by.strip(), reason.strip()
        if not approved_by or not reason:
            raise LifecycleError("retiring needs --approved-by and a --reason")
        if not versions:
            raise LifecycleError(f"name the {region} version(s) to retire")
        with self.exclusive():
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
                               "serving version")
            return self._archive(region, "retire", retired, serving, model.metadata["metrics"],
                                 model, approved_by, reason)

    def _archive(self, region: str, action: str, retired: list[Version], serving: Version,
                 serving_metrics: dict[str, Any] | None, kept: LoadedModel, approved_by: str,
                 reason: str) -> dict[str, Any]:
        """Journal, then carry out, moving `retired` into the archive so `kept` serves."""
        clash = [v for v in retired if self.archive.version_dir(region, v).exists()]
        if clash:
            raise LifecycleError(f"the archive already holds {region} "
                                 f"{', '.join(map(str, clash))}; resolve that by hand")
        record = {
            "id": uuid.uuid4().hex, "at": utc_now(), "action": action, "region": region,
            "from_version": str(serving), "to_version": str(kept.version),
            "approved_by": approved_by, "reason": reason, "forced": False,
            "retired": [str(v) for v in retired],
            "metrics": {"evaluated_on": "each version's own held-out rows",
                        "from": serving_metrics, "to": kept.metadata["metrics"]},
            "model_sha256": kept.metadata["model_sha256"],
        }
        write_json_atomically(self._journal(region), {"record": record})
        pause_point("journaled")
        self._finish(region)
        return record

    def _finish(self, region: str) -> dict[str, Any]:
        """Carry a journaled action through to the end; every step can be run again."""
        journal_path = self._journal(region)
        journal = json.loads(journal_path.read_text(encoding="utf-8"))
        record = journal["record"]
        folder = self.production.region_dir(region)
        if record["action"] == "promote":
            staging = folder / journal["staging"]
            target = folder / record["to_version"]
            if not target.exists():
                os.rename(staging, target)
                fsync_dir(folder)
            pause_point("renamed")
        elif record["action"] in ("rollback", "retire"):
            hidden = [(v, folder / f".{v}.{record['action']}-{record['id']}")
                      for v in record["retired"]]
            for number, (version, dot) in enumerate(hidden):
                if (folder / version).exists():
                    os.rename(folder / version, dot)
                    fsync_dir(folder)
                if number == 0:
                    pause_point("hidden")
            for number, (version, dot) in enumerate(hidden):
                if dot.exists():
                    _move_to_archive(dot, self.archive.version_dir(region, version))
                if number == 0:
                    pause_point("archived")
        else:
            raise LifecycleError(f"journal {journal_path.name} holds an unknown action "
                                 f"{record['action']!r}; resolve it by hand")
        # Under the lock, a record of this action can only be the log's last one.
        if (last_audit_record(self.audit_log) or {}).get("id") != record["id"]:
            append_audit(self.audit_log, record)
        pause_point("audited")
        journal_path.unlink()
        fsync_dir(journal_path.parent)
        return record

    def recover(self) -> list[str]:
        """Complete interrupted actions and sweep abandoned promote folders; say what was done."""
        with self.exclusive() as done:
            return done

    def _recover(self) -> list[str]:
        done = []
        for journal in self.pending():
            region = journal.name[len(".pending-"):-len(".json")]
            if region not in REGIONS:
                continue
            record = self._finish(region)
            what = (", ".join(record["retired"]) if record["action"] == "retire"
                    else f"to {record['to_version']}")
            done.append(f"completed the interrupted {record['action']} of {region} {what} "
                        f"(approved by {record['approved_by']})")
        for region in REGIONS:
            folder = self.production.region_dir(region)
            for name in _names(folder):
                if name.startswith(".") and ".promote-" in name:
                    shutil.rmtree(folder / name, ignore_errors=True)
                    done.append(f"removed {region}/{name}, an unfinished promotion copy")
        if self.models_dir.is_dir():
            for stale in self.models_dir.glob(".pending-*.json.*.tmp"):
                stale.unlink()
        return done
