"""The application factory: reads like a table of contents."""

from __future__ import annotations

from flask import Flask

from kosprice.api import (
    access,
    context,
    errors,
    hardening,
    jsonprovider,
    observation,
    openapi,
    prometheus,
    ratelimit,
    services,
    views,
)
from kosprice.ml.registry import ModelRegistry
from kosprice.ml.signing import Signer
from kosprice.monitoring.metrics import DriftCollector, Metrics
from kosprice.monitoring.store import MonitorStore
from kosprice.settings import Settings


def create_app(settings: Settings | None = None, *, registry: ModelRegistry | None = None,
               store: MonitorStore | None = None) -> Flask:
    """Build the app; fails (IntegrityError) when any model on disk does not validate."""
    settings = settings or Settings.from_env()
    registry = registry or ModelRegistry.load(settings.models_dir,
                                              manifest=settings.serving_manifest,
                                              signer=Signer.from_settings(settings))
    app = Flask("kosprice", static_folder=None)  # an API: no file is ever served
    app.config["MAX_CONTENT_LENGTH"] = settings.max_content_length
    app.json = jsonprovider.FastJSONProvider(app)
    app.json.sort_keys = False

    metrics = Metrics(prometheus.init_app(app))
    metrics.record_serving(registry.serving_models())
    app_services = services.Services.build(settings, registry, metrics, store)
    services.init_app(app, app_services)
    prometheus.collect_at_scrape(app, DriftCollector(app_services.drift_reports))

    context.init_app(app)
    access.init_app(app, settings)
    hardening.init_app(app)
    ratelimit.init_app(app, settings)
    errors.init_app(app)
    observation.init_app(app)
    app.register_blueprint(views.bp)
    openapi.init_app(app)
    return app
