"""What is loaded: the serving model of each region in this process."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kosprice.errors import UnknownRegionError
from kosprice.features import REGIONS
from kosprice.ml.repository import LoadedModel, ModelRepository, load_or_fail
from kosprice.ml.versions import Version


class ModelRegistry:
    """Serving models per region, loaded once per process after full validation."""

    def __init__(self, models: Mapping[str, LoadedModel],
                 versions_on_disk: Mapping[str, list[Version]]) -> None:
        self._models = dict(models)
        self._versions_on_disk = {r: list(v) for r, v in versions_on_disk.items()}

    @classmethod
    def load(cls, models_dir: Path, regions: tuple[str, ...] = REGIONS) -> ModelRegistry:
        """Validate every version under models_dir and load the newest of each region.

        Raises IntegrityError listing every problem found: the service must not start.
        """
        models = load_or_fail(models_dir, regions)
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
                f"unknown region {region!r}", {"regions": self.regions}) from None

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
            "params": meta["params"],
            "metrics": meta["metrics"],
            "features": meta["features"],
            "trained_at": meta["trained_at"],
            "sklearn_version": meta["sklearn_version"],
            "training_rows": meta["training_data"].get("rows"),
            "versions_on_disk": [str(v) for v in self.versions_on_disk(region)],
        }
