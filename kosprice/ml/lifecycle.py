"""The model lifecycle: version bump rules, compare, promote, rollback and the audit trail.

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

A crash before the journal exists leaves production untouched (a stale promote dot-folder is
swept later). A crash after it is rolled forward by `recover()`, which every promote and
rollback runs first and `make reload` runs before validating: steps 3-5 (promote) or 2-5
(rollback) are idempotent, and the audit record carries an ID, so the trail holds exactly
one record per completed action.
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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kosprice.errors import LifecycleError
from kosprice.features import REGIONS, TARGET
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
from kosprice.ml.registry import MANIFEST_FILE, read_manifest
from kosprice.ml.repository import LoadedModel, ModelRepository, check_version
from kosprice.ml.training import TrainingResult, model_inputs, score
from kosprice.ml.versions import FIRST, Bump, Version

HOLDOUT_FILE = "holdout.csv"
REPORT_DIR = "report"
LOCK_FILE = ".lifecycle.lock"
PAUSE_ENV = "LIFECYCLE_PAUSE_AT"
"""Test hook: the step name at which promote/rollback prints a marker and sleeps."""
PAUSE_MARKER = "lifecycle paused at"


def pause_point(step: str) -> None:
    """Stop here when the test hook names this step, so a test can kill the process."""
    if os.environ.get(PAUSE_ENV) == step:
        print(f"{PAUSE_MARKER} {step}", file=sys.stderr, flush=True)
        time.sleep(3600)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- comparing on the same rows ---------------------------------------------------------

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

    def as_dict(self) -> dict[str, Any]:
        def side(e: Evaluation | None) -> dict[str, Any] | None:
            return None if e is None else {"version": e.version, "model_type": e.model_type,
                                           "metrics": e.metrics, "features": e.features}
        return {"region": self.region, "rows": self.rows, "verdict": self.verdict,
                "implied_bump": self.implied_bump, "explanation": self.explanation,
                "candidate": side(self.candidate), "production": side(self.production)}


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
    raw = [f for f in features if f != "amenities_count"]
    missing = [f for f in raw if f not in holdout.columns]
    if missing:
        raise LifecycleError(f"the evaluation rows lack {', '.join(missing)}, which "
                             f"{version or 'the candidate'} needs")
    predictions = np.asarray(estimator.predict(model_inputs(holdout, features)), dtype=float)
    return Evaluation(version, metadata["model_type"], dict(metadata["params"]), features,
                      score(holdout[TARGET].astype(float), predictions), predictions)


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
    type_changed = metadata["model_type"] != loaded.metadata["model_type"]
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
        why = (f"model type {loaded.metadata['model_type']} -> {metadata['model_type']} "
               f"(MAJOR); {change}")
    elif verdict == "better":
        bump, why = "minor", f"same model type, {change} (MINOR)"
    else:
        bump, why = None, f"same model type and no MAE improvement: {change}"
    return Comparison(region, len(holdout), actual, candidate, current, verdict, bump, why)


# --- version numbers ------------------------------------------------------------------

def _version_of(name: str) -> Version | None:
    """The version a folder name stands for, dot-names of work in progress included."""
    bare = name.lstrip(".")
    parts = bare.split(".")
    text = ".".join(parts[:3])
    return Version.parse(text) if Version.is_valid(text) else None


def _names(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else []


def choose_version(comparison: Comparison, production_version: Version | None,
                   used: set[Version], bump: Bump | None = None,
                   reason: str | None = None) -> tuple[Version, dict[str, Any]]:
    """Apply the bump rules; return the version and the `versioning` record for metadata.

    The first version of a region is v1.0.0. Otherwise the bump applies to production's
    version: MAJOR when the model type changed, MINOR when MAE improved on the same rows,
    PATCH only when the operator declares it; `bump` overrides the rule and needs a reason.
    A version already used anywhere is skipped by bumping again the same way.
    """
    reason = (reason or "").strip() or None
    if bump and not reason:
        raise LifecycleError("--bump needs --reason: the override is recorded in the metadata")
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


# --- the report ----------------------------------------------------------------------

def _money(value: float) -> str:
    return f"{value:,.0f}"


def _params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items()) if v is not None)


def comparison_table(c: Comparison) -> list[str]:
    """The side-by-side table, as Markdown lines."""
    p = c.production
    head = ["", f"candidate {c.candidate.version}",
            f"production {p.version}" if p else "production"]
    rows = [["model type", c.candidate.model_type, p.model_type if p else "-"]]
    for key, label, fmt in (("mae", "MAE (Rp)", _money), ("rmse", "RMSE (Rp)", _money),
                            ("r2", "R²", "{:.4f}".format), ("mape", "MAPE", "{:.2%}".format)):
        rows.append([label, fmt(c.candidate.metrics[key]), fmt(p.metrics[key]) if p else "-"])
    rows.append(["features", ", ".join(c.candidate.features),
                 ", ".join(p.features) if p else "-"])
    if p is not None and p.model_type != c.candidate.model_type:
        rows.append(["params", _params(c.candidate.params), _params(p.params)])
    else:
        for name, (old, new) in c.param_changes().items():
            rows.append([f"param `{name}`", str(new), str(old)])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def write_report(comparison: Comparison, folder: Path) -> list[Path]:
    """Write predicted-vs-actual and residual plots (PNG) and a Markdown table to folder."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    folder.mkdir(parents=True, exist_ok=True)
    series = [(comparison.candidate, "tab:blue")]
    if comparison.production is not None:
        series.append((comparison.production, "tab:orange"))
    actual = comparison.actual

    figure = Figure(figsize=(6, 6))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for evaluation, colour in series:
        axes.scatter(actual, evaluation.predictions, s=12, alpha=0.6, color=colour,
                     label=f"{evaluation.version} ({evaluation.model_type})")
    low, high = float(actual.min()), float(actual.max())
    axes.plot([low, high], [low, high], color="grey", linewidth=1, label="perfect")
    axes.set(xlabel="actual monthly price (Rp)", ylabel="predicted monthly price (Rp)",
             title=f"{comparison.region}: predicted vs actual ({comparison.rows} rows)")
    axes.legend()
    figure.tight_layout()
    scatter = folder / "predicted_vs_actual.png"
    figure.savefig(scatter, dpi=100)

    figure = Figure(figsize=(8, 4))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for evaluation, colour in series:
        axes.scatter(evaluation.predictions, evaluation.predictions - actual, s=12, alpha=0.6,
                     color=colour, label=str(evaluation.version))
    axes.axhline(0, color="grey", linewidth=1)
    axes.set(xlabel="predicted monthly price (Rp)", ylabel="residual: predicted - actual (Rp)",
             title=f"{comparison.region}: residuals")
    axes.legend()
    figure.tight_layout()
    residuals = folder / "residuals.png"
    figure.savefig(residuals, dpi=100)

    c = comparison
    title = f"# {c.region}: candidate {c.candidate.version} vs production " + (
        str(c.production.version) if c.production else "(none)")
    lines = [title, "",
             f"Both scored on the candidate's {c.rows} held-out rows (the same rows).", "",
             *comparison_table(c), "",
             f"**Verdict:** {c.verdict}; implied bump: {c.implied_bump or 'none'}.", "",
             c.explanation + ".", "",
             "![predicted vs actual](predicted_vs_actual.png)", "",
             "![residuals](residuals.png)", ""]
    table = folder / "comparison.md"
    table.write_text("\n".join(lines), encoding="utf-8")
    return [table, scatter, residuals]


# --- the audit trail --------------------------------------------------------------------

def append_audit(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line and fsync it; the log is never rewritten."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    line = json.dumps(record, ensure_ascii=False) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size:  # a line torn by a power cut must not swallow this record
            with open(path, "rb") as handle:
                handle.seek(size - 1)
                if handle.read(1) != b"\n":
                    line = "\n" + line
        data = line.encode("utf-8")
        while data:
            data = data[os.write(fd, data):]
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        fsync_dir(path.parent)


def read_audit(path: Path, region: str | None = None) -> list[dict[str, Any]]:
    """Return the audit records, oldest first; a torn (unparseable) line is skipped."""
    path = Path(path)
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and (region is None or record.get("region") == region):
            records.append(record)
    return records


HISTORY_FIELDS = ("at", "action", "from_version", "to_version", "approved_by", "reason",
                  "forced", "metrics", "model_sha256", "retired")


def promotion_history(audit_log: Path, region: str) -> list[dict[str, Any]]:
    """The public promotion/rollback history of a region, newest first."""
    return [{k: r[k] for k in HISTORY_FIELDS if k in r}
            for r in reversed(read_audit(audit_log, region))]


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
        problems, model = check_version(self.production.version_dir(region, version), region)
        if model is None:
            return Baseline(version, problem="; ".join(p.reason for p in problems))
        return Baseline(version, model)

    def candidate(self, region: str, version: str) -> tuple[LoadedModel, pd.DataFrame]:
        """Load a candidate after the startup integrity checks, with its held-out rows."""
        if not Version.is_valid(version):
            raise LifecycleError(f"{version!r} is not a version of the form vMAJOR.MINOR.PATCH")
        folder = self.candidates.version_dir(region, version)
        if not folder.is_dir():
            known = ", ".join(str(v) for v in self.candidates.versions(region)) or "none"
            raise LifecycleError(f"no candidate {region} {version} (candidates: {known})")
        problems, model = check_version(folder, region)
        if model is None:
            raise LifecycleError(f"candidate {region} {version} fails the integrity checks: "
                                 + "; ".join(str(p) for p in problems))
        return model, read_holdout(folder)

    def compare(self, region: str, version: str, report: bool = True,
                ) -> tuple[Comparison, list[Path]]:
        """Compare a candidate with production; write the report into the candidate folder."""
        model, holdout = self.candidate(region, version)
        comparison = compare(region, model.estimator, model.metadata, holdout,
                             self.baseline(region))
        paths = []
        if report:
            paths = write_report(comparison,
                                 self.candidates.version_dir(region, version) / REPORT_DIR)
        return comparison, paths

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
            if model.version in {v for v in self.archive.versions(region)}:
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
            problems, model = check_version(self.production.version_dir(region, target), region)
            if model is None:
                raise LifecycleError(f"{region} {target} fails validation, refusing to serve it: "
                                     + "; ".join(p.reason for p in problems))
            newer = [v for v in reversed(versions) if v > target]
            clash = [v for v in newer if self.archive.version_dir(region, v).exists()]
            if clash:
                raise LifecycleError(f"the archive already holds {region} "
                                     f"{', '.join(map(str, clash))}; resolve that by hand")
            try:  # the version rolled back may be broken: that must not block the rollback
                old_metrics = read_metadata(self.production.version_dir(region, serving))["metrics"]
            except (OSError, ValueError, KeyError):
                old_metrics = None
            record = {
                "id": uuid.uuid4().hex, "at": utc_now(), "action": "rollback", "region": region,
                "from_version": str(serving), "to_version": str(target),
                "approved_by": approved_by, "reason": reason, "forced": False,
                "retired": [str(v) for v in newer],
                "metrics": {"evaluated_on": "each version's own held-out rows",
                            "from": old_metrics, "to": model.metadata["metrics"]},
                "model_sha256": model.metadata["model_sha256"],
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
        else:
            hidden = [(v, folder / f".{v}.rollback-{record['id']}") for v in record["retired"]]
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
        if not any(r.get("id") == record["id"] for r in read_audit(self.audit_log, region)):
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
            done.append(f"completed the interrupted {record['action']} of {region} to "
                        f"{record['to_version']} (approved by {record['approved_by']})")
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
