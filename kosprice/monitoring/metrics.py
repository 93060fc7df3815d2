"""kosprice's own Prometheus metrics (the HTTP request metrics come from the exporter).

Names here are a contract: the Grafana dashboard and the alert rules query them, and a test
checks every name they use against a live scrape.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kosprice.monitoring.drift import PREDICTED_PRICE

# Fine enough for millisecond requests; the default buckets start at 5 ms.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.075,
                   0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
PRICE_BUCKETS = tuple(float(v) for v in (
    250_000, 500_000, 750_000, 1_000_000, 1_250_000, 1_500_000, 2_000_000, 2_500_000,
    3_000_000, 4_000_000, 5_000_000, 6_000_000, 8_000_000, 10_000_000, 15_000_000))


class ServedModel(Protocol):
    """What `Metrics.record_serving` reads of a loaded model (kosprice.ml's LoadedModel)."""

    region: str
    version: object
    metadata: Mapping[str, Any]


class Metrics:
    """Metric objects bound to one registry (the exporter's; a fresh one per app in tests)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.predictions = Counter(
            "kosprice_predictions_total", "Predictions served",
            ["region", "model_version"], registry=registry)
        self.prediction_price = Histogram(
            "kosprice_prediction_price_rupiah", "Predicted monthly rent (Rupiah)",
            ["region"], buckets=PRICE_BUCKETS, registry=registry)
        self.model_latency = Histogram(
            "kosprice_model_latency_seconds", "Time spent in the model call",
            ["region"], buckets=LATENCY_BUCKETS, registry=registry)
        # The exporter's request histogram is labelled by URL rule, not region: this one is.
        self.request_latency = Histogram(
            "kosprice_request_latency_seconds",
            "Prediction requests (single and batch, any status) from the view to the response, "
            "by region", ["region"], buckets=LATENCY_BUCKETS, registry=registry)
        self.anomalies = Counter(
            "kosprice_anomalies_total", "Anomalous predictions by kind",
            ["region", "kind"], registry=registry)
        # Clients that stop sending titles, or listings outside what a model was trained on,
        # show here first: title_missing, outside_training_range, price_clamped, ...
        self.warnings = Counter(
            "kosprice_prediction_warnings_total",
            "Predictions answered with a warning, by region and warning code",
            ["region", "code"], registry=registry)
        self.model_info = Gauge(
            "kosprice_model_info", "1 for the model version each live worker serves",
            ["region", "model_version", "model_type"], multiprocess_mode="livemax",
            registry=registry)
        self.store_errors = Counter(
            "kosprice_monitor_store_errors_total", "Failed calls to the monitoring store",
            ["operation"], registry=registry)
        # Labelled by store kind: a labelless multiprocess gauge writes 0 the moment it is
        # created, so a worker still booting would report the store down.
        self.store_up = Gauge(
            "kosprice_monitor_store_up", "1 while the monitoring store answers, else 0",
            ["store"], multiprocess_mode="livemin", registry=registry)

    def record_serving(self, models: Iterable[ServedModel]) -> None:
        """Set `kosprice_model_info` to 1 for the version this worker serves in each region."""
        for model in models:
            self.model_info.labels(model.region, str(model.version),
                                   model.metadata["model_type"]).set(1)


def observe_many(histogram: Histogram, values: Sequence[float]) -> None:
    """`histogram.observe` of each value, with one update per bucket that moves.

    A batch's 1,000 prices were 1,000 observations, each adding to the sum and to its
    bucket (a locked write per value in multiprocess mode). Finite values are counted per
    bucket with numpy, the bucket `observe` picks (the first upper bound >= the value); the
    sum moves once. Anything else, or a histogram without those internals, is observed
    value by value.
    """
    bounds = getattr(histogram, "_upper_bounds", None)
    buckets, value_sum = getattr(histogram, "_buckets", None), getattr(histogram, "_sum", None)
    try:
        total = math.fsum(values)
    except OverflowError:
        total = math.inf
    if (len(values) < 8 or bounds is None or buckets is None or value_sum is None
            or not math.isfinite(total)):
        for value in values:
            histogram.observe(value)
        return
    histogram._raise_if_not_observable()
    value_sum.inc(total)
    counts = np.bincount(np.searchsorted(bounds, values, side="left"), minlength=len(bounds))
    for index in np.flatnonzero(counts).tolist():
        buckets[index].inc(int(counts[index]))


class DriftCollector(Collector):
    """`kosprice_drift_psi` and `kosprice_drift_window_predictions`, computed at scrape time.

    The numbers live in the shared store, not in any worker: whichever worker answers the
    scrape reads them (one store read per region), so there is nothing for the multiprocess
    mode to add up or pick between. PSI is exported only once the minimum sample is reached.
    """

    def __init__(self, reports: Callable[[], Iterable[Mapping[str, Any]]]) -> None:
        self.reports = reports

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (GaugeMetricFamily(
                    "kosprice_drift_psi",
                    "PSI of the drift window against the training reference bins, per feature "
                    "(feature=predicted_price for the prediction)",
                    labels=["region", "model_version", "feature"]),
                GaugeMetricFamily(
                    "kosprice_drift_window_predictions",
                    "Predictions of the serving version in the drift window",
                    labels=["region", "model_version"]))

    def describe(self) -> Iterator[Metric]:
        yield from self._families()  # without this, registering would read the store

    def collect(self) -> Iterator[Metric]:
        psi, sample = self._families()
        for report in self.reports():
            region, version = report["region"], report["model_version"]
            sample.add_metric([region, version], report["window"]["predictions"])
            entries = {**report["features"], PREDICTED_PRICE: report[PREDICTED_PRICE]}
            for feature, entry in entries.items():
                if entry["psi"] is not None:
                    psi.add_metric([region, version, feature], entry["psi"])
        yield psi
        yield sample
