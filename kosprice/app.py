"""The application factory: reads like a table of contents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask

from kosprice.api import context, errors, views
from kosprice.ml.registry import ModelRegistry
from kosprice.settings import Settings


@dataclass
class Services:
    """The collaborators views use, kept in `app.extensions["kosprice"]`."""

    settings: Settings
    registry: ModelRegistry

    def describe_model(self, region: str) -> dict[str, Any]:
        return self.registry.describe(region)


def create_app(settings: Settings | None = None, *,
               registry: ModelRegistry | None = None) -> Flask:
    """Build the app; fails (IntegrityError) when any model on disk does not validate."""
    settings = settings or Settings.from_env()
    app = Flask("kosprice")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_content_length
    app.json.sort_keys = False
    app.extensions["kosprice"] = Services(
        settings=settings,
        registry=registry or ModelRegistry.load(settings.models_dir),
    )
    context.init_app(app)
    errors.init_app(app)
    app.register_blueprint(views.bp)
    return app
