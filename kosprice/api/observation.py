"""The canonical log line and monitor record of every prediction request, failed ones too.

The predict view fills in a `PredictionState` as it goes; an after-request hook logs and
counts it once the response (success or error envelope) is known.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from flask import Flask, Response, g, request

from kosprice.api.context import current_request_id
from kosprice.api.services import services
from kosprice.logging import get_logger
from kosprice.monitoring.store import BatchObservation, Observation

log = get_logger("kosprice.predictions")


@dataclass
class PredictionState:
    """What one prediction request got to before its response: later fields may stay unset."""

    region: str
    started: float = field(default_factory=time.perf_counter)
    model_version: str | None = None
    """Set once the region is known: only then does the request count in its monitors."""
    predicted_price: float | None = None
    model_latency: float | None = None
    """Seconds spent in the model call."""
    anomalies: tuple[str, ...] = ()
    drift: str | None = None
    """The listing's and the price's reference-bin slots (`DriftReference.encode`)."""


@dataclass
class BatchState:
    """What one batch request got to: the prices of its valid items, in order."""

    region: str
    started: float = field(default_factory=time.perf_counter)
    model_version: str | None = None
    items: int = 0
    prices: tuple[float, ...] = ()
    anomalies: tuple[tuple[str, ...], ...] = ()
    drift: tuple[str | None, ...] = ()
    """Each price's reference-bin slots (`DriftReference.encode`)."""
    model_latency: float | None = None


def start_batch(region: str) -> BatchState:
    """Begin this batch request's record; the after-request hook finishes it."""
    g.prediction = state = BatchState(region)
    return state


def _observe_batch(state: BatchState, response: Response, latency_ms: float) -> None:
    """One log line and one store round trip for the whole batch."""
    level = log.info if response.status_code < 500 else log.error
    kinds: dict[str, int] = {}
    for found in state.anomalies:
        for kind in found:
            kinds[kind] = kinds.get(kind, 0) + 1
    level("prediction_batch", status=response.status_code, latency_ms=latency_ms,
          region=state.region, model_version=state.model_version, items=state.items,
          predicted=len(state.prices), rejected=state.items - len(state.prices),
          anomalies=kinds)
    if state.model_version is not None:
        services().monitor.observe_batch(BatchObservation(
            region=state.region, request_id=current_request_id(), timestamp=time.time(),
            status=response.status_code, latency_ms=latency_ms,
            model_version=state.model_version, prices=state.prices,
            anomalies=state.anomalies, drift=state.drift, client=_client()),
            state.model_latency)


def _client() -> str:
    """The client's address as the app sees it (after ProxyFix, when trusted), hashed."""
    return services().clients.of(request.remote_addr)


def error_summary(response: Response) -> dict:
    """For an error answer: its code and the names of the invalid fields (already capped by
    the error handler), never the values sent; nothing for a success."""
    if response.status_code < 400 or not response.is_json:
        return {}
    error = (response.get_json(silent=True) or {}).get("error") or {}
    summary = {"error_code": error.get("code")}
    fields = (error.get("details") or {}).get("fields")
    if isinstance(fields, dict):
        summary["invalid_fields"] = sorted(fields)
    return summary


def start_prediction(region: str) -> PredictionState:
    """Begin this request's prediction record; the after-request hook finishes it."""
    # The region comes from the URL: an unknown one is logged cut short, like any client text.
    g.prediction = state = PredictionState(region[:64])
    return state


def observe_prediction(response: Response) -> Response:
    """Log the canonical line of a prediction request and count it in the monitors."""
    state: PredictionState | BatchState | None = g.pop("prediction", None)
    if state is None:
        return response
    latency_ms = round((time.perf_counter() - state.started) * 1000, 3)
    if isinstance(state, BatchState):
        _observe_batch(state, response, latency_ms)
        return response
    level = log.info if response.status_code < 500 else log.error
    level("prediction", status=response.status_code, latency_ms=latency_ms,
          region=state.region, model_version=state.model_version,
          predicted_price=state.predicted_price, anomalies=list(state.anomalies),
          **error_summary(response))
    if state.model_version is not None:  # a known region: failed requests count there too
        services().monitor.observe(Observation(
            region=state.region, request_id=current_request_id(), timestamp=time.time(),
            status=response.status_code, latency_ms=latency_ms,
            model_version=state.model_version, price=state.predicted_price,
            anomalies=state.anomalies, drift=state.drift, client=_client()),
            state.model_latency)
    return response


def init_app(app: Flask) -> None:
    app.after_request(observe_prediction)
