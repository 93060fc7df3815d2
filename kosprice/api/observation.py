"""The canonical log line and monitor record of every prediction request, failed ones too.

The predict views fill in a `PredictionState` as it goes; an after-request hook logs and
counts it once the response (success or error envelope) is known.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from flask import Flask, Response, g, request

from kosprice.api.context import current_request_id
from kosprice.api.services import services
from kosprice.logging import get_logger
from kosprice.monitoring.store import Observation

log = get_logger("kosprice.predictions")


@dataclass
class PredictionState:
    """What one prediction request (one listing, or a batch) got to before its response:
    later fields may stay unset. One listing is recorded as a batch of one."""

    region: str
    batch: bool = False
    started: float = field(default_factory=time.perf_counter)
    model_version: str | None = None
    """Set once the region is known: only then does the request count in its monitors."""
    items: int = 0
    """Listings sent in a batch, valid or not."""
    prices: tuple[float, ...] = ()
    """The price of each valid listing, in order."""
    anomalies: tuple[tuple[str, ...], ...] = ()
    drift: tuple[str | None, ...] = ()
    """Each price's listing and model-output reference-bin slots (`DriftReference.encode`)."""
    model_latency: float | None = None
    """Seconds spent in the model call."""
    warnings: Mapping[str, int] = field(default_factory=dict)
    """How many of the priced listings carry each warning code."""

    def log_fields(self) -> tuple[str, dict]:
        """The canonical line's event and the fields of its kind of request."""
        if self.batch:
            kinds: dict[str, int] = {}
            for found in self.anomalies:
                for kind in found:
                    kinds[kind] = kinds.get(kind, 0) + 1
            return "prediction_batch", {
                "items": self.items, "predicted": len(self.prices),
                "rejected": self.items - len(self.prices), "anomalies": kinds}
        return "prediction", {
            "predicted_price": self.prices[0] if self.prices else None,
            "anomalies": list(self.anomalies[0]) if self.anomalies else []}


def start_prediction(region: str, batch: bool = False) -> PredictionState:
    """Begin this request's prediction record; the after-request hook finishes it."""
    # The region comes from the URL: an unknown one is logged cut short, like any client text.
    g.prediction = state = PredictionState(region[:64], batch)
    return state


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


def observe_prediction(response: Response) -> Response:
    """Log the canonical line of a prediction request and count it in the monitors."""
    state: PredictionState | None = g.pop("prediction", None)
    if state is None:
        return response
    latency_ms = round((time.perf_counter() - state.started) * 1000, 3)
    level = log.info if response.status_code < 500 else log.error
    event, fields = state.log_fields()
    level(event, status=response.status_code, latency_ms=latency_ms, region=state.region,
          model_version=state.model_version, **fields, **error_summary(response))
    if state.model_version is not None:  # a known region: failed requests count there too
        services().monitor.observe(Observation(
            region=state.region, request_id=current_request_id(), timestamp=time.time(),
            status=response.status_code, latency_ms=latency_ms,
            model_version=state.model_version, prices=state.prices,
            anomalies=state.anomalies, drift=state.drift, client=_client(),
            batch=state.batch), state.model_latency, state.warnings)
    return response


def init_app(app: Flask) -> None:
    app.after_request(observe_prediction)
