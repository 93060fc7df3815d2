"""What is loaded: the serving model of each region in this process."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kosprice.errors import IntegrityError, UnknownRegionError
from kosprice.features import FEATURES, REGIONS
from kosprice.ml import predictor
from kosprice.ml.artifact import write_json_atomically
from kosprice.ml.repository import (
    LoadedModel,
    ModelRepository,
    Problem,
    check_version,
    load_or_fail,
)
from kosprice.ml.signing import Signer
from kosprice.ml.versions import Version


def write_manifest(path: Path, models: Mapping[str, LoadedModel]) -> None:
    """Pin the validated serving versions (atomically: readers see the old or the new file)."""
    pins = {region: {"version": str(model.version), "sha256": model.metadata["model_sha256"]}
            for region, model in sorted(models.items())}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomically(path, {"written_at": time.time(), "serving": pins})


def read_manifest(path: Path) -> dict[str, dict[str, str]]:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))["serving"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IntegrityError([Problem(Path(path), f"unreadable serving manifest ({exc})")]) \
            from None


def load_pinned(models_dir: Path, pins: Mapping[str, Mapping[str, str]],
                regions: tuple[str, ...] = REGIONS, signer: Signer | None = None,
                ) -> dict[str, LoadedModel]:
    """Load exactly the pinned version of each region; raise listing every problem."""
    problems: list[Problem] = []
    models = {}
    for region in regions:
        pin = pins.get(region)
        if pin is None:
            problems.append(Problem(Path(models_dir, region), "not in the serving manifest"))
            continue
        found, model = check_version(ModelRepository(models_dir).version_dir(
            region, pin["version"]), region, signer)
        problems += found
        if model is not None and model.metadata["model_sha256"] != pin["sha256"]:
            problems.append(Problem(Path(models_dir, region, pin["version"]),
                                    "changed since the master validated it"))
        elif model is not None:
            models[region] = model
    if problems:
        raise IntegrityError(problems)
    return models


def _search_summary(search: dict[str, Any] | None) -> dict[str, Any] | None:
    """How the model was chosen: the protocol and the winner's CV MAE (not every candidate)."""
    if not search:
        return None
    return {key: search[key] for key in ("method", "chosen", "cv_mae_mean", "cv_mae_sd")}


class ModelRegistry:
    """Serving models per region, loaded once per process after full validation.

    Each model's fast inference path is built and checked against its Pipeline here.
    """

    def __init__(self, models: Mapping[str, LoadedModel],
                 versions_on_disk: Mapping[str, list[Version]]) -> None:
        self._models = {region: predictor.prepare(model) for region, model in models.items()}
        self._versions_on_disk = {r: list(v) for r, v in versions_on_disk.items()}

    @classmethod
    def load(cls, models_dir: Path, regions: tuple[str, ...] = REGIONS,
             manifest: Path | None = None, signer: Signer | None = None) -> ModelRegistry:
        """Load the serving model of each region, validated; raise IntegrityError otherwise.

        Without a manifest, every version under models_dir is validated and the newest of
        each region loads. With one, exactly the pinned versions load (checksum verified
        before unpickling): every worker of a Gunicorn master serves what the master last
        validated, even a worker respawned while someone is changing models/. With a
        signer, every version loaded or checked must carry a valid signature.
        """
        if manifest is None:
            models = load_or_fail(models_dir, regions, signer)
        else:
            models = load_pinned(models_dir, read_manifest(manifest), regions, signer)
        on_disk = ModelRepository(models_dir).all_versions()
        return cls(models, {region: on_disk[region] for region in regions})

    @property
    def regions(self) -> list[str]:
        return sorted(self._models)

    def get(self, region: str) -> LoadedModel:
        try:
            return self._models[region]
        except KeyError:
            raise UnknownRegionError(
                # The name comes from a URL: quote a bounded part of it, never all of it.
                f"unknown region {region[:64]!r}", {"regions": self.regions}) from None

    def serving_models(self) -> list[LoadedModel]:
        """The loaded model of every region, in region order."""
        return [self._models[region] for region in self.regions]

    def versions_on_disk(self, region: str) -> list[Version]:
        return self._versions_on_disk.get(region, [])

    def describe(self, region: str) -> dict[str, Any]:
        """Public facts about a region's serving model (never file-system paths)."""
        model = self.get(region)
        meta = model.metadata
        return {
            "region": region,
            "model_version": str(model.version),
            "model_type": meta["model_type"],
            "target_transform": meta.get("target_transform"),
            "params": meta["params"],
            "metrics": meta["metrics"],
            "metrics_without_title": meta.get("metrics_without_title"),
            # What the client sends, and what the server computes from it (never sent).
            "inputs": [f for f in meta["features"] if FEATURES[f].required],
            "optional_inputs": [f for f in meta["features"] if FEATURES[f].optional],
            "derived_features": [f for f in meta["features"] if FEATURES[f].derived],
            "trained_at": meta["trained_at"],
            "sklearn_version": meta["sklearn_version"],
            "training_rows": meta["training_data"].get("rows"),
            "model_search": _search_summary(meta.get("model_search")),
            "price_range_coverage": (meta.get("intervals") or {}).get("holdout_coverage"),
            "price_range_coverage_out_of_fold": _out_of_fold(meta),
            "versions_on_disk": [str(v) for v in self.versions_on_disk(region)],
            "inference": predictor.describe(model),
        }


def _out_of_fold(meta: dict[str, Any]) -> dict[str, Any] | None:
    """Coverage and standard error per level, out of fold (and without the title)."""
    def levels(intervals: Any) -> dict[str, Any] | None:
        measured = (intervals or {}).get("out_of_fold_coverage")
        if not measured:
            return None
        return {key: {"coverage": m["coverage"], "standard_error": m["standard_error"]}
                for key, m in measured["levels"].items()}

    found = levels(meta.get("intervals"))
    if found is not None and (untitled := levels(meta.get("intervals_without_title"))):
        found["without_title"] = untitled
    return found
