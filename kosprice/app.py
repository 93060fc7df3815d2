"""The application factory: reads like a table of contents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask

from kosprice.api import context, errors, prometheus, views
from kosprice.ml.audit import promotion_history
from kosprice.ml.registry import ModelRegistry
from kosprice.ml.repository import LoadedModel
from kosprice.monitoring import build_store
from kosprice.monitoring.anomalies import AnomalyRules
from kosprice.monitoring.metrics import Metrics
from kosprice.monitoring.monitor import Monitor
from kosprice.monitoring.store import MonitorStore
from kosprice.settings import Settings


@dataclass
class Services:
    """The collaborators views use, kept in `app.extensions["kosprice"]`."""

    settings: Settings
    registry: ModelRegistry
    monitor: Monitor
    history: dict[str, list[dict[str, Any]]]
    """Promotions and rollbacks per region, newest first, read with the models."""

    def describe_model(self, region: str) -> dict[str, Any]:
        description = self.registry.describe(region)  # raises for an unknown region first
        return {**description, "history": self.history.get(region, [])}

    def anomaly_rules(self, model: LoadedModel) -> AnomalyRules:
        return self.monitor.rules(model.region, str(model.version), model.metadata)


def create_app(settings: Settings | None = None, *, registry: ModelRegistry | None = None,
               store: MonitorStore | None = None) -> Flask:
    """Build the app; fails (IntegrityError) when any model on disk does not validate."""
    settings = settings or Settings.from_env()
    registry = registry or ModelRegistry.load(settings.models_dir,
                                              manifest=settings.serving_manifest)
    app = Flask("kosprice", static_folder=None)  # an API: no file is ever served
    app.config["MAX_CONTENT_LENGTH"] = settings.max_content_length
    app.json.sort_keys = False

    metrics = Metrics(prometheus.init_app(app))
    for region in registry.regions:
        model = registry.get(region)
        metrics.model_info.labels(region, str(model.version),
                                  model.metadata["model_type"]).set(1)
    monitor = Monitor(store or build_store(settings), metrics,
                      retry_after=settings.store_retry_after, price_limits=settings.price_limits)
    history = {region: promotion_history(settings.audit_log, region)
               for region in registry.regions}
    app.extensions["kosprice"] = Services(settings, registry, monitor, history)

    context.init_app(app)
    errors.init_app(app)
    app.register_blueprint(views.bp)
    return app
