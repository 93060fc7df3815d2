"""Prediction throughput of the shipped models, as ratios against plain `model.predict`.

    make bench            # or: .venv/bin/python benchmarks/predict.py [--seconds 2]

The baseline is measured in the same run on the same machine (these machines are shared and
noisy, so only the ratios mean anything): the sklearn Pipeline called on a one-row DataFrame.
Then the service's own predictor, then a whole POST /predict through the Flask app (routing,
validation, logging, monitoring on the embedded store) without the network.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from kosprice.app import create_app
from kosprice.features import derive
from kosprice.logging import configure as configure_logging
from kosprice.ml import predictor
from kosprice.ml.registry import ModelRegistry
from kosprice.settings import Settings

LISTING = {"luas_kamar": 12.0, "jarak_ke_bca": 1.5, "tipe_kos": "putri", "is_km_dalam": 1,
           "is_water_heater": 0, "is_furnished": 1, "is_listrik_free": 0, "is_parkir_mobil": 0,
           "is_mesin_cuci": 1}


def rate(call, seconds: float) -> float:
    """Calls per second over about `seconds`, after a short warm-up."""
    for _ in range(5):
        call()
    calls, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        call()
        calls += 1
    return calls / elapsed


def measure(model, client, seconds: float) -> tuple[float, float, float]:
    """Return calls/s of plain model.predict, the predictor, and POST /predict."""
    frame = pd.DataFrame([derive(LISTING, model.features)], columns=model.features)
    baseline = rate(lambda: model.estimator.predict(frame), seconds)
    ours = rate(lambda: predictor.predict(model, [LISTING]), seconds)
    http = rate(lambda: client.post(f"/predict/{model.region}", json=LISTING), seconds)
    return baseline, ours, http


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    args = parser.parse_args()
    configure_logging("WARNING")  # measure the work, not the terminal

    registry = ModelRegistry.load(args.models_dir)
    with tempfile.TemporaryDirectory() as state:
        settings = Settings.from_env({}, models_dir=args.models_dir, state_dir=Path(state))
        client = create_app(settings, registry=registry).test_client()
        print(f"{'region':<16} {'model':<26} {'baseline/s':>10} {'predictor':>10} {'http':>10}")
        for region in registry.regions:
            model = registry.get(region)
            baseline, ours, http = measure(model, client, args.seconds)
            print(f"{region:<16} {model.metadata['model_type']:<26} {baseline:>10.0f} "
                  f"{ours / baseline:>9.2f}x {http / baseline:>9.2f}x")


if __name__ == "__main__":
    main()
