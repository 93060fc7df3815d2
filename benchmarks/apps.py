"""The WSGI apps `make bench` serves under deploy/gunicorn.conf.py, next to `wsgi:app`.

    gunicorn -c deploy/gunicorn.conf.py 'benchmarks.apps:framework()'

- `framework()`: the framework's limit — parse the JSON body, answer a constant JSON.
- `floor()`: plain Flask calling each region's model.pkl on a one-row DataFrame.
- `kosprice_quiet()`: kosprice with monitoring off — a store that records nothing and the
  per-prediction log line dropped — to show what monitoring and logging cost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from pathlib import Path

import joblib
import pandas as pd
from flask import Flask, jsonify, request

from kosprice import logging as kosprice_logging
from kosprice.app import create_app
from kosprice.features import REGIONS, derive
from kosprice.ml.repository import ModelRepository
from kosprice.monitoring.store import (
    RINGS,
    DriftWindow,
    MonitorStore,
    Observation,
    RegionState,
)
from kosprice.settings import Settings


def plain_app(name: str, answer: Callable[[str, dict], dict]) -> Flask:
    """Plain Flask with /health and POST /predict/<region> answering `answer(region, body)`."""
    app = Flask(name)

    @app.get("/health")
    def health():
        return jsonify(status="ok")

    @app.post("/predict/<region>")
    def predict(region: str):
        return jsonify(answer(region, request.get_json()))

    return app


def framework() -> Flask:
    return plain_app("framework", lambda region, listing: {
        "region": region, "predicted_price": 1230302.54, "model_version": "v1.0.0"})


def floor() -> Flask:
    settings = Settings.from_env()
    repository = ModelRepository(settings.models_dir)
    models = {region: joblib.load(Path(repository.version_dir(
        region, repository.serving_version(region)), "model.pkl")) for region in REGIONS}

    def answer(region: str, listing: dict) -> dict:
        model = models[region]
        features = list(model.feature_names_in_)
        frame = pd.DataFrame([derive(listing, features)], columns=features)
        return {"region": region, "predicted_price": round(float(model.predict(frame)[0]), 2)}

    return plain_app("floor", answer)


class NullStore(MonitorStore):
    """Records nothing: monitoring off."""

    kind = "none"

    def record(self, observation: Observation) -> None:
        pass

    def read_drift(self, region: str) -> DriftWindow:
        return DriftWindow()

    def read(self, region: str, rings: Collection[str] = RINGS) -> RegionState:
        return RegionState()

    def ping(self) -> None:
        pass


def kosprice_quiet() -> Flask:
    settings = Settings.from_env()
    kosprice_logging.configure(settings.log_level, settings.log_dir)
    logging.getLogger("kosprice.predictions").setLevel(logging.WARNING)
    return create_app(settings, store=NullStore(settings.window_size, settings.anomaly_history))
