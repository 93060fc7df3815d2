"""The monitoring store: what every worker (and every host) records into and reads from.

Two real implementations of one interface: `RedisStore` (shared by hosts) and `SqliteStore`
(embedded default, shared by the workers of one host). `tests/monitoring/test_store_contract.py`
runs the same contract against both.

Per region the store keeps lifetime counters plus three bounded rings: the last
`window_size` predictions (price, model version), the last `window_size` request latencies
(milliseconds, status) and the last `anomaly_history` anomalies. Every anomaly is counted,
but the anomaly ring lists at most `recent_per_client` entries of one client at any time
(its later anomalies are counted as `unlisted`), so one client cannot flood it. Memory is bounded by
regions × (2 × window_size + anomaly_history) entries, whatever the traffic.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Observation:
    """One prediction request, as recorded: its status and latency once, and each prediction
    it made, in order. A single listing is a batch of one; a failed request has no prices."""

    region: str
    request_id: str
    timestamp: float
    status: int
    latency_ms: float
    model_version: str | None = None
    prices: tuple[float, ...] = ()
    anomalies: tuple[tuple[str, ...], ...] = ()
    """Kinds of anomaly of each price (same length as prices; empty tuples when normal)."""
    drift: tuple[str | None, ...] = ()
    """Each price's reference-bin slots (`DriftReference.encode`); None or absent: none."""
    client: str = "unknown"
    """A short keyed hash of the client's address (`ClientHasher`), never the address."""
    batch: bool = False
    """A batch request: its anomaly entries are named `{request_id}#{index}`."""

    @classmethod
    def single(cls, region: str, request_id: str, timestamp: float, status: int,
               latency_ms: float, model_version: str | None = None,
               price: float | None = None, anomalies: tuple[str, ...] = (),
               drift: str | None = None, client: str = "unknown") -> Observation:
        """A one-listing request: its price (None when it failed) as a batch of one."""
        if price is None:
            return cls(region, request_id, timestamp, status, latency_ms, model_version,
                       client=client)
        return cls(region, request_id, timestamp, status, latency_ms, model_version,
                   (price,), (anomalies,), (drift,), client)

    def drift_entries(self) -> list[str]:
        """`version|slots` of each prediction that has slots, in order."""
        return [f"{self.model_version}|{slots}" for slots in self.drift if slots]

    def anomaly_record(self, index: int) -> str:
        """The anomaly entry of prediction `index`."""
        request_id = f"{self.request_id}#{index}" if self.batch else self.request_id
        return json.dumps({"request_id": request_id, "value": self.prices[index],
                           "reasons": list(self.anomalies[index]),
                           "model_version": self.model_version, "timestamp": self.timestamp,
                           "client": self.client})

    def anomalous(self) -> list[int]:
        return [i for i, kinds in enumerate(self.anomalies) if kinds]


RINGS = ("window", "latency", "anomalies")
"""The bounded rings of a region: recent predictions, request latencies, anomalies."""


def error_class(status: int) -> str | None:
    """The counter a response status adds to: "client_errors" (4xx), "server_errors" (5xx)."""
    if status >= 500:
        return "server_errors"
    return "client_errors" if status >= 400 else None


def split_pair(raw: str, first, second):
    """Parse a ring entry `a|b` into (first(a), second(b))."""
    a, b = raw.split("|", 1)
    return first(a), second(b)


@dataclass
class RegionState:
    """Everything the store holds about one region, read in one go."""

    predictions: int = 0
    requests: int = 0
    errors: int = 0
    """Requests answered with any 4xx or 5xx status: client_errors + server_errors."""
    client_errors: int = 0
    """Requests answered 4xx: the client sent something the API refuses."""
    server_errors: int = 0
    """Requests answered 5xx: the service failed; what alerts count."""
    anomalous: int = 0
    unlisted: int = 0
    """Anomalies counted but kept out of the recent list (their client had its share)."""
    last_prediction_at: float | None = None
    by_version: dict[str, int] = field(default_factory=dict)
    anomalies_by_kind: dict[str, int] = field(default_factory=dict)
    window: list[tuple[float, str]] = field(default_factory=list)
    """Recent predictions (price, model version), oldest first."""
    latencies: list[tuple[float, int]] = field(default_factory=list)
    """Recent requests (latency ms, status), oldest first."""
    recent_anomalies: list[dict] = field(default_factory=list)
    """Most recent first."""

    @classmethod
    def parse(cls, counters: dict[str, Any], window: list[str], latencies: list[str],
              anomalies: list[str]) -> RegionState:
        """Build the state from a store's raw reads: counters by name, rings of encoded
        entries (window and latencies oldest first, anomalies newest first)."""
        return cls(
            predictions=int(counters.get("predictions", 0)),
            requests=int(counters.get("requests", 0)),
            errors=int(counters.get("errors", 0)),
            client_errors=int(counters.get("client_errors", 0)),
            server_errors=int(counters.get("server_errors", 0)),
            anomalous=int(counters.get("anomalous", 0)),
            unlisted=int(counters.get("unlisted", 0)),
            last_prediction_at=float(counters["last"]) if "last" in counters else None,
            by_version={k[2:]: int(v) for k, v in counters.items() if k.startswith("v:")},
            anomalies_by_kind={k[2:]: int(v) for k, v in counters.items() if k.startswith("a:")},
            window=[split_pair(item, float, str) for item in window],
            latencies=[split_pair(item, float, int) for item in latencies],
            recent_anomalies=[json.loads(item) for item in anomalies],
        )


@dataclass
class DriftWindow:
    """Per model version: how many of the region's last `drift_window` predictions it made,
    and how many of those fell in each reference-bin slot {(bin index, slot): count}."""

    predictions: dict[str, int] = field(default_factory=dict)
    counts: dict[str, dict[tuple[int, int], int]] = field(default_factory=dict)

    @classmethod
    def parse(cls, fields: dict[str, Any]) -> DriftWindow:
        """Build from a store's counters `version|n` and `version|bin index|slot`."""
        window = cls()
        for name, value in fields.items():
            version, _, rest = name.partition("|")
            if rest == "n":
                window.predictions[version] = int(value)
            elif int(value):
                index, slot = rest.split("|")
                window.counts.setdefault(version, {})[(int(index), int(slot))] = int(value)
        return window


DRIFT_WINDOW = 2_000
RECENT_PER_CLIENT = 5


class MonitorStore(abc.ABC):
    """Atomic recording in one round trip; consistent reads for every worker.

    Drift is counted over a sliding window of each region's last `drift_window` predictions
    (their slot vectors kept in a ring): recording one adds its slots to the counts and takes
    off those of the prediction leaving the window, in the same atomic step.
    """

    def __init__(self, window_size: int, anomaly_history: int,
                 drift_window: int = DRIFT_WINDOW,
                 recent_per_client: int = RECENT_PER_CLIENT) -> None:
        self.window_size = window_size
        self.anomaly_history = anomaly_history
        self.drift_window = drift_window
        self.recent_per_client = recent_per_client

    @abc.abstractmethod
    def record(self, observation: Observation) -> None:
        """Record a request and all its predictions atomically, in one round trip: one
        request (latency ring, counters) and len(prices) predictions, in order; raise on any
        store failure."""

    @abc.abstractmethod
    def read(self, region: str, rings: Collection[str] = RINGS) -> RegionState:
        """Return the region's counters and the rings asked for; raise on any store failure.

        Rings not asked for read as empty: a report fetches only what it shows.
        """

    def prepare(self) -> None:
        """Create what the store needs, once, before workers start (Gunicorn's master).

        Nothing by default: a Redis client must be made after the fork, in each worker.
        """
        return None

    @abc.abstractmethod
    def read_drift(self, region: str) -> DriftWindow:
        """Return the region's drift counts by model version; raise on any store failure."""

    @abc.abstractmethod
    def ping(self) -> None:
        """Raise unless the store answers."""

    @property
    @abc.abstractmethod
    def kind(self) -> str:
        """A short name for logs and the monitor reports: "redis" or "sqlite"."""
