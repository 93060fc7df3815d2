"""What is on disk: region folders, version folders, and their integrity validation.

Layout: `{root}/{region}/vMAJOR.MINOR.PATCH/{model.pkl, metadata.json}`. Names starting
with a dot are work in progress of an atomic write and are ignored; plain files at the top
(the audit log, a README) are ignored too. Everything else must be valid, or nothing serves.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import sklearn
from sklearn.compose import TransformedTargetRegressor

from kosprice.errors import IntegrityError
from kosprice.features import FEATURES, REGIONS
from kosprice.ml.artifact import METADATA_FILE, MODEL_FILE, REQUIRED_METADATA, sha256_file
from kosprice.ml.signing import SIGNATURE_FILE, Signer
from kosprice.ml.title import titled_part
from kosprice.ml.versions import Version


def final_regressor(model: Any) -> Any:
    """The regressor at the end of a pipeline, unwrapped from a target transformer (for a
    title model, that of the pipeline reading the title)."""
    model = titled_part(model)
    final = model[-1] if hasattr(model, "steps") else model
    if isinstance(final, TransformedTargetRegressor):
        final = getattr(final, "regressor_", final.regressor)
    return final


def target_transform(model: Any) -> str | None:
    """`"log"` when the pipeline fits a log/exp price target, None for a raw target.

    Any other target transformer is reported by its functions' names, which the
    integrity check then refuses (metadata only ever says "log" or null).
    """
    model = titled_part(model)
    final = model[-1] if hasattr(model, "steps") else model
    if not isinstance(final, TransformedTargetRegressor):
        return None
    names = (getattr(final.func, "__name__", None), getattr(final.inverse_func, "__name__", None))
    return "log" if names == ("log", "exp") else f"{names[0]}/{names[1]}"


@dataclass(frozen=True)
class Problem:
    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class LoadedModel:
    """A validated model version in memory."""

    region: str
    version: Version
    metadata: dict[str, Any]
    estimator: Any
    inference: Any = field(default=None, compare=False, repr=False)
    """How it is evaluated (`kosprice.ml.predictor.Inference`); set by `predictor.prepare`."""

    @property
    def features(self) -> list[str]:
        return self.metadata["features"]


class ModelRepository:
    """Version folders of one root (production, candidates or archive)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def region_dir(self, region: str) -> Path:
        return self.root / region

    def version_dir(self, region: str, version: Version | str) -> Path:
        return self.root / region / str(version)

    def versions(self, region: str) -> list[Version]:
        """Valid version folders of a region, oldest first."""
        folder = self.region_dir(region)
        if not folder.is_dir():
            return []
        return sorted(Version.parse(p.name) for p in folder.iterdir()
                      if p.is_dir() and Version.is_valid(p.name))

    def serving_version(self, region: str) -> Version | None:
        versions = self.versions(region)
        return versions[-1] if versions else None

    def all_versions(self) -> dict[str, list[Version]]:
        return {region: self.versions(region) for region in REGIONS}


def _entries(folder: Path) -> Iterator[Path]:
    return (p for p in sorted(folder.iterdir()) if not p.name.startswith("."))


def check_version(folder: Path, region: str, signer: Signer | None = None,
                  ) -> tuple[list[Problem], LoadedModel | None]:
    """Validate one version folder; return its problems, and the model when it has none.

    With a signer, the folder's signature must be valid too (checked before unpickling).
    """
    problems: list[Problem] = []

    def problem(reason: str, path: Path = folder) -> tuple[list[Problem], None]:
        problems.append(Problem(path, reason))
        return problems, None

    if not Version.is_valid(folder.name):
        return problem("folder name is not a version of the form vMAJOR.MINOR.PATCH")
    model_path, metadata_path = folder / MODEL_FILE, folder / METADATA_FILE
    for path in (model_path, metadata_path):
        if not path.is_file():
            problems.append(Problem(path, "missing"))
    if problems:
        return problems, None
    try:
        metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
    except OSError as exc:
        return problem(f"cannot be read ({exc.strerror})", metadata_path)
    except (ValueError, UnicodeDecodeError) as exc:
        return problem(f"not valid JSON ({exc})", metadata_path)
    if not isinstance(metadata, dict):
        return problem("must hold a JSON object", metadata_path)
    missing = [key for key in REQUIRED_METADATA if key not in metadata]
    if missing:
        return problem(f"missing key(s): {', '.join(missing)}", metadata_path)

    if metadata["model_version"] != folder.name:
        problem(f"model_version {metadata['model_version']!r} does not match the folder "
                f"{folder.name!r}", metadata_path)
    if metadata["region"] != region:
        problem(f"region {metadata['region']!r} does not match the folder {region!r}",
                metadata_path)
    if metadata["sklearn_version"] != sklearn.__version__:
        problem(f"trained with scikit-learn {metadata['sklearn_version']}, running "
                f"{sklearn.__version__}; cross-version loading is unsupported", metadata_path)
    features = metadata["features"]
    if (not isinstance(features, list) or not features
            or not all(isinstance(f, str) for f in features)):
        problem("features must be a non-empty list of feature names", metadata_path)
    elif unknown := [f for f in features if f not in FEATURES]:
        problem(f"feature(s) not in the catalogue: {', '.join(unknown)}", metadata_path)

    # The checksum is verified before unpickling: loading a pickle runs code from it.
    try:
        actual = sha256_file(model_path)
    except OSError as exc:
        return problem(f"cannot be read ({exc.strerror})", model_path)
    if actual != metadata["model_sha256"]:
        return problem(f"sha256 {actual} does not match metadata "
                       f"{metadata['model_sha256']!r}; refusing to unpickle", model_path)
    if signer is not None and (unsigned := signer.problem(folder, region)):
        problem(unsigned, folder / SIGNATURE_FILE)
    if problems:
        return problems, None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", sklearn.exceptions.InconsistentVersionWarning)
            estimator = joblib.load(model_path)
    except Exception as exc:  # noqa: BLE001 - any failure to load is a problem to report
        return problem(f"cannot be loaded: {type(exc).__name__}: {exc}", model_path)

    final = final_regressor(estimator)
    if type(final).__name__ != metadata["model_type"]:
        problem(f"model is a {type(final).__name__}, metadata says "
                f"{metadata['model_type']!r}", model_path)
    if target_transform(estimator) != metadata.get("target_transform"):
        problem(f"model's price target is {target_transform(estimator) or 'raw'}, metadata "
                f"says {metadata.get('target_transform') or 'raw'}", model_path)
    names = getattr(estimator, "feature_names_in_", None)
    if names is None or list(names) != features:
        problem(f"model expects features {None if names is None else list(names)}, "
                f"metadata lists {features}", model_path)
    if problems:
        return problems, None
    return [], LoadedModel(region, Version.parse(folder.name), metadata, estimator)


EVALUATION_DIR = "evaluation"
"""Beside the region folders: the regions' fixed evaluation sets (kosprice.ml.evaluation)."""


def validate(root: Path, regions: tuple[str, ...] = REGIONS, signer: Signer | None = None,
             ) -> tuple[list[Problem], dict[str, LoadedModel]]:
    """Check every version folder under root; return all problems and each serving model.

    Every version is checked, not only the serving one: older versions are rollback targets.
    """
    root = Path(root)
    if not root.is_dir():
        return [Problem(root, "models directory does not exist")], {}
    problems: list[Problem] = []
    serving: dict[str, LoadedModel] = {}
    for entry in _entries(root):
        if entry.is_dir() and entry.name not in regions and entry.name != EVALUATION_DIR:
            problems.append(Problem(
                entry, f"unknown region (expected one of {', '.join(regions)})"))
    for region in regions:
        folder = root / region
        if not folder.is_dir():
            problems.append(Problem(folder, "no model for this region"))
            continue
        entries = list(_entries(folder))
        if not entries:
            problems.append(Problem(folder, "no version folders"))
        for entry in entries:
            if not entry.is_dir():
                problems.append(Problem(entry, "unexpected file; only version folders belong here"))
                continue
            found, model = check_version(entry, region, signer)
            problems += found
            # Keep only the newest in memory; the others were loaded just to be checked.
            if model is not None and (region not in serving
                                      or model.version > serving[region].version):
                serving[region] = model
    return problems, serving


def load_or_fail(root: Path, regions: tuple[str, ...] = REGIONS,
                 signer: Signer | None = None) -> dict[str, LoadedModel]:
    """Validate root and return the serving model per region; raise listing every problem."""
    problems, serving = validate(root, regions, signer)
    if problems:
        raise IntegrityError(problems)
    return serving
