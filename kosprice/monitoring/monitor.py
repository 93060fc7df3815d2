"""The monitor: records every prediction request and answers the monitoring endpoints.

Monitoring fails open: a store that errors or hangs (short socket timeouts) never fails a
prediction. After a failure the monitor stops calling the store for `retry_after` seconds,
counts what it could not record, logs at most one line per `retry_after`, and resumes by
itself once the store answers again. Reads in that state raise StoreUnavailableError (503).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kosprice.errors import StoreUnavailableError
from kosprice.logging import get_logger
from kosprice.monitoring.anomalies import KINDS, MIN_LIVE_WINDOW, AnomalyRules
from kosprice.monitoring.drift import EPSILON, MODERATE, SIGNIFICANT, DriftReference
from kosprice.monitoring.metrics import Metrics, observe_many
from kosprice.monitoring.stats import summarize
from kosprice.monitoring.store import MonitorStore, Observation, RegionState, error_class

log = get_logger("kosprice.monitoring")


class CircuitBreaker:
    """Open for `retry_after` seconds after a failure; closed again after that."""

    def __init__(self, retry_after: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.retry_after = retry_after
        self.clock = clock
        self.open_until = 0.0

    @property
    def is_open(self) -> bool:
        return self.clock() < self.open_until

    def trip(self) -> None:
        self.open_until = self.clock() + self.retry_after


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class _Series:
    """The labelled metric series of one region and model version."""

    predictions: Any
    price: Any
    request_latency: Any
    model_latency: Any


class Monitor:
    def __init__(self, store: MonitorStore, metrics: Metrics, retry_after: float,
                 price_limits: Mapping[str, tuple[float, float]] | None = None,
                 drift_min_sample: int = 500) -> None:
        self.store = store
        self.metrics = metrics
        self.retry_after = retry_after
        # Recording and reading trip separately: a slow monitor read must not stop this
        # worker from counting predictions.
        self.breakers = {op: CircuitBreaker(retry_after) for op in ("record", "read")}
        self.price_limits = dict(price_limits or {})
        self._rules: dict[tuple[str, str], AnomalyRules] = {}
        self.drift_min_sample = drift_min_sample
        self._drift: dict[tuple[str, str], DriftReference] = {}
        self._last_warning = float("-inf")
        self._series_of: dict[tuple[str, str | None], _Series] = {}
        self._store_up = metrics.store_up.labels(store.kind)
        # Every worker reports whether the store answers from its start, not only once it
        # has recorded something (the gauge is the minimum over live workers).
        self._call("record", store.ping)

    # -- recording ------------------------------------------------------------------------

    def rules(self, region: str, version: str, metadata: Mapping[str, Any]) -> AnomalyRules:
        key = (region, version)
        if key not in self._rules:
            self._rules[key] = AnomalyRules.from_metadata(metadata, self.price_limits.get(region))
        return self._rules[key]

    def drift_reference(self, region: str, version: str,
                        metadata: Mapping[str, Any]) -> DriftReference:
        key = (region, version)
        if key not in self._drift:
            self._drift[key] = DriftReference.from_metadata(metadata)
        return self._drift[key]

    def observe(self, observation: Observation, model_latency: float | None = None,
                warnings: Mapping[str, int] | None = None) -> None:
        """Count a request and its predictions in Prometheus (`warnings`: how many of them
        carry each warning code) and, in one round trip, in the shared store; never raise."""
        o = observation
        series = self._series(o.region, o.model_version)
        if o.prices:
            series.predictions.inc(len(o.prices))
            observe_many(series.price, o.prices)
            if any(o.anomalies):
                for kind, count in Counter(k for kinds in o.anomalies for k in kinds).items():
                    self.metrics.anomalies.labels(o.region, kind).inc(count)
        for code, count in (warnings or {}).items():
            self.metrics.warnings.labels(o.region, code).inc(count)
        series.request_latency.observe(o.latency_ms / 1000)
        if model_latency is not None:
            series.model_latency.observe(model_latency)
        self._call("record", lambda: self.store.record(o))

    def _series(self, region: str, version: str | None) -> _Series:
        """The metric series one request of `region` and `version` records into, looked up
        once (`labels()` validates and locks on every call)."""
        key = (region, version)
        found = self._series_of.get(key)
        if found is None:
            metrics = self.metrics
            found = self._series_of[key] = _Series(
                predictions=metrics.predictions.labels(region, version),
                price=metrics.prediction_price.labels(region),
                request_latency=metrics.request_latency.labels(region),
                model_latency=metrics.model_latency.labels(region))
        return found

    def _call(self, operation: str, action: Callable[[], Any]) -> Any:
        """Run a store action ("record" or "read") behind its breaker; None when it can't."""
        breaker = self.breakers[operation]
        if breaker.is_open:
            self.metrics.store_errors.labels(f"{operation}_skipped").inc()
            return None
        try:
            result = action()
        except Exception as exc:  # noqa: BLE001 - any store failure must degrade, not fail
            breaker.trip()
            self.metrics.store_errors.labels(operation).inc()
            self.metrics.store_up.labels(self.store.kind).set(0)
            now = time.monotonic()
            if now - self._last_warning >= self.retry_after:
                self._last_warning = now
                log.warning("monitor store unavailable; monitoring paused",
                            store=self.store.kind, operation=operation,
                            error=f"{type(exc).__name__}: {exc}",
                            retry_after_s=self.retry_after)
            return None
        self._store_up.set(1)
        return result

    # -- reading --------------------------------------------------------------------------

    def _read(self, region: str, *rings: str) -> RegionState:
        state = self._call("read", lambda: self.store.read(region, rings))
        if state is None:
            raise self._unavailable()
        return state

    def _unavailable(self) -> StoreUnavailableError:
        return StoreUnavailableError(
            "The monitoring store is unavailable; predictions are still served.",
            {"store": self.store.kind, "retry_after_s": self.retry_after})

    def drift_report(self, region: str, version: str,
                     reference: DriftReference) -> dict[str, Any]:
        """PSI of the serving version's predictions in the drift window (one store read)."""
        window = self._call("read", lambda: self.store.read_drift(region))
        if window is None:
            raise self._unavailable()
        predictions = window.predictions.get(version, 0)
        report = reference.report(predictions, window.counts.get(version, {}),
                                  self.drift_min_sample)
        return {
            "region": region,
            "model_version": version,
            "status": report.pop("status"),
            "window": {"predictions": predictions, "capacity": self.store.drift_window,
                       "min_sample": self.drift_min_sample,
                       "other_versions": {v: n for v, n in sorted(window.predictions.items())
                                          if v != version}},
            **report,
            "thresholds": {"moderate": MODERATE, "significant": SIGNIFICANT,
                           "empty_bin_share": EPSILON},
            "store": self.store.kind,
        }

    def prediction_report(self, region: str) -> dict[str, Any]:
        state = self._read(region, "window")
        by_version: dict[str, list[float]] = {}
        for price, version in state.window:
            by_version.setdefault(version, []).append(price)
        versions = sorted(set(by_version) | set(state.by_version))
        return {
            "region": region,
            "count": state.predictions,
            "window_capacity": self.store.window_size,
            "window": summarize(price for price, _ in state.window),
            "by_model_version": {
                v: {"count": state.by_version.get(v, 0),
                    "window": summarize(by_version.get(v, []))} for v in versions},
            "last_prediction_at": _iso(state.last_prediction_at),
            "store": self.store.kind,
        }

    def anomaly_report(self, region: str, rules: AnomalyRules) -> dict[str, Any]:
        state = self._read(region, "window", "anomalies")
        prices = [price for price, _ in state.window]
        live = None
        if len(prices) >= MIN_LIVE_WINDOW:
            # The live window is judged against the training fences only: fences computed
            # from the window itself would let one client's flood of extreme predictions
            # widen them until nothing counts as an outlier.
            outside = sum(rules.training.outside(p) for p in prices)
            live = {"window": len(prices), "outside_training_fences": outside,
                    "outside_rate": round(outside / len(prices), 6)}
        return {
            "region": region,
            "predictions": state.predictions,
            "anomalous_predictions": state.anomalous,
            "anomaly_rate": round(state.anomalous / state.predictions, 6)
            if state.predictions else 0.0,
            "unlisted": state.unlisted,
            "by_kind": {kind: state.anomalies_by_kind.get(kind, 0) for kind in KINDS},
            "thresholds": {"floor": rules.floor, "ceiling": rules.ceiling,
                           "source": rules.thresholds_source},
            "iqr": {"training": rules.training.describe(), "live": live,
                    "live_min_window": MIN_LIVE_WINDOW},
            "recent": [{**a, "timestamp": _iso(a["timestamp"])} for a in state.recent_anomalies],
            "recent_capacity": self.store.anomaly_history,
            "recent_per_client": self.store.recent_per_client,
            "store": self.store.kind,
        }

    def latency_report(self, regions: list[str]) -> dict[str, Any]:
        report = {}
        for region in regions:
            state = self._read(region, "latency")
            latencies = [ms for ms, _ in state.latencies]
            window = Counter(error_class(status) for _, status in state.latencies)
            report[region] = {
                "requests": state.requests,
                "errors": state.errors,
                "client_errors": state.client_errors,
                "server_errors": state.server_errors,
                "error_rate": _rate(state.errors, state.requests),
                "server_error_rate": _rate(state.server_errors, state.requests),
                "window": {**summarize(latencies, digits=3),
                           "errors": window["client_errors"] + window["server_errors"],
                           "client_errors": window["client_errors"],
                           "server_errors": window["server_errors"]},
            }
        return {"unit": "ms", "window_capacity": self.store.window_size,
                "regions": report, "store": self.store.kind}
