"""In-process microbenchmarks of each stage of the predict path, for `make bench`.

Each stage is timed in rounds of calibrated length; the median round gives µs per call.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from kosprice import logging as kosprice_logging
from kosprice.api.batch import load_batch, validate_listing
from kosprice.app import create_app
from kosprice.features import derive
from kosprice.ml import predictor
from kosprice.ml.fastpath import TitleRouted
from kosprice.ml.registry import ModelRegistry
from kosprice.monitoring.store import Observation
from kosprice.settings import Settings
from tests.factories import LISTING  # the listing the tests post: one copy

BATCH = 1000


def per_call_us(call: Callable[[], object], seconds: float, rounds: int = 5) -> float:
    """Median over `rounds` of the mean time of one call (µs), each round ≈ seconds/rounds."""
    call()
    started, calls = time.perf_counter(), 0
    while time.perf_counter() - started < seconds / rounds / 4 or calls < 1:
        call()
        calls += 1
    per_round = max(1, calls * 4 // 3)
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(per_round):
            call()
        timings.append((time.perf_counter() - started) / per_round * 1e6)
    return statistics.median(timings)


def store_failures(monitor) -> float:
    """Store calls this process failed or skipped so far (fail open)."""
    return sum(sample.value for metric in monitor.metrics.store_errors.collect()
               for sample in metric.samples if sample.name.endswith("_total"))


def batch_listings(n: int = BATCH) -> list[dict]:
    return [{**LISTING, "luas_kamar": 6.0 + (i % 300) / 10, "jarak_ke_bca": (i % 97) / 10,
             "tipe_kos": ("putra", "putri", "campur")[i % 3], "is_furnished": i % 2}
            for i in range(n)]


@contextlib.contextmanager
def quiet_stdout():
    """Keep log lines off the terminal while the JSON handlers are configured."""
    saved = sys.stdout
    with open(os.devnull, "w", encoding="utf-8") as devnull:
        sys.stdout = devnull
        try:
            yield
        finally:
            sys.stdout = saved


def stages(models_dir: Path, redis_url: str | None, seconds: float,
           prefix: str = "kosprice-bench", batch_size: int = BATCH) -> list[dict]:
    """Return one row per region: µs per call of each stage, and batch predictions/s."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp, quiet_stdout():
        kosprice_logging.configure("INFO", Path(tmp, "logs"))
        settings = Settings.from_env({}, models_dir=models_dir, state_dir=Path(tmp, "state"),
                                     log_dir=Path(tmp, "logs"), redis_url=redis_url,
                                     store_prefix=prefix)
        registry = ModelRegistry.load(models_dir)
        app = create_app(settings, registry=registry)
        client, monitor = app.test_client(), app.extensions["kosprice"].monitor
        log = kosprice_logging.get_logger("kosprice.predictions")
        batch = batch_listings(batch_size)
        for region in registry.regions:
            model = registry.get(region)
            fast = model.inference.fast
            features = tuple(model.features)
            frame = pd.DataFrame([derive(LISTING, features)], columns=list(features))
            observation = Observation.single(region, "bench", time.time(), 200, 1.0,
                                             str(model.version), 1_500_000.0)
            row = {"region": region, "engine": model.inference.engine,
                   "build_ms": model.inference.build_ms}
            timed = {
                "validate": lambda f=features: validate_listing(dict(LISTING), f),
                "predict_fast": lambda m=model: predictor.predict(m, [LISTING]),
                "floor_sklearn": lambda m=model, fr=frame: m.estimator.predict(fr),
                "monitor_record": lambda o=observation: monitor.observe(o, 0.0001),
                "log_line": lambda r=region: log.info("prediction", status=200, latency_ms=1.0,
                                             region=r, predicted_price=1.0,
                                             anomalies=[]),
                "http_in_process": lambda r=region: client.post(f"/predict/{r}", json=LISTING),
            }
            if isinstance(fast, TitleRouted):  # LISTING has no title: the twin prices it
                fast = fast.without_title
            if fast is not None:
                X = fast.encoder.encode([LISTING])
                timed["encode"] = lambda f=fast: f.encoder.encode([LISTING])
                timed["model_call"] = lambda f=fast, x=X: f.predict_matrix(x)
            failures = store_failures(monitor)
            for name, call in timed.items():
                row[name] = per_call_us(call, seconds)
            row["store_failures"] = store_failures(monitor) - failures
            batch_us = per_call_us(lambda m=model: predictor.predict(m, batch), seconds * 3, 3)
            row["batch_predictions_per_s"] = batch_size / batch_us * 1e6
            body = {"listings": batch}
            row["batch_validate_per_s"] = batch_size / per_call_us(
                lambda f=features, b=body: load_batch(b, f, len(batch)), seconds * 3, 3) * 1e6
            # The whole batch request (parsing, validation, model, pricing, monitoring with
            # its one store call, the log line, the answer), without the HTTP transfer.
            row["batch_post_per_s"] = batch_size / per_call_us(
                lambda r=region, b=body: client.post(f"/predict/{r}/batch", json=b),
                seconds * 3, 3) * 1e6
            rows.append(row)
        kosprice_logging.configure("WARNING")
    return rows
