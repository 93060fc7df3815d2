"""The collaborators the views use: built once per app, kept in `app.extensions`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app

from kosprice.errors import StoreUnavailableError
from kosprice.ml.audit import promotion_history
from kosprice.ml.registry import ModelRegistry
from kosprice.ml.repository import LoadedModel
from kosprice.monitoring import build_client_hasher, build_store
from kosprice.monitoring.anomalies import AnomalyRules
from kosprice.monitoring.clients import ClientHasher
from kosprice.monitoring.drift import DriftReference
from kosprice.monitoring.metrics import Metrics
from kosprice.monitoring.monitor import Monitor
from kosprice.monitoring.store import MonitorStore
from kosprice.settings import Settings

EXTENSION = "kosprice"


@dataclass
class Services:
    """What a request may need: settings, the loaded models, the monitor, the audit history."""

    settings: Settings
    registry: ModelRegistry
    monitor: Monitor
    history: dict[str, list[dict[str, Any]]]
    """Promotions and rollbacks per region, newest first, read with the models."""
    clients: ClientHasher
    """Names the client of each recorded anomaly by a keyed hash of its address."""

    @classmethod
    def build(cls, settings: Settings, registry: ModelRegistry, metrics: Metrics,
              store: MonitorStore | None = None) -> Services:
        """Connect the monitor to its store (the configured one unless given)."""
        monitor = Monitor(store or build_store(settings), metrics,
                          retry_after=settings.store_retry_after,
                          price_limits=settings.price_limits,
                          drift_min_sample=settings.drift_min_sample)
        history = {region: promotion_history(settings.audit_log, region)
                   for region in registry.regions}
        return cls(settings, registry, monitor, history, build_client_hasher(settings))

    def describe_model(self, region: str) -> dict[str, Any]:
        description = self.registry.describe(region)  # raises for an unknown region first
        return {**description, "history": self.history.get(region, [])}

    def anomaly_rules(self, model: LoadedModel) -> AnomalyRules:
        return self.monitor.rules(model.region, str(model.version), model.metadata)

    def drift_reference(self, model: LoadedModel) -> DriftReference:
        return self.monitor.drift_reference(model.region, str(model.version), model.metadata)

    def drift_report(self, region: str) -> dict[str, Any]:
        """The drift monitor of the version this worker serves in `region`."""
        model = self.registry.get(region)
        return self.monitor.drift_report(region, str(model.version), self.drift_reference(model))

    def drift_reports(self) -> Iterator[dict[str, Any]]:
        """Every region's drift report the store can give now (for scrapes: never raises)."""
        for region in self.registry.regions:
            try:
                yield self.drift_report(region)
            except StoreUnavailableError:
                continue


def init_app(app: Flask, services: Services) -> None:
    app.extensions[EXTENSION] = services


def services() -> Services:
    """The current app's services (inside a request or app context)."""
    return current_app.extensions[EXTENSION]
