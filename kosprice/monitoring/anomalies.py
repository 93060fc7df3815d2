"""Anomaly rules for predicted prices: hard thresholds and IQR fences.

Defaults come from the training price distribution recorded in the model's metadata:
- hard floor = half the lowest training price, hard ceiling = twice the highest
  (a prediction outside these is implausible for the region, whatever the listing);
  `KOSPRICE_PRICE_LIMITS` overrides them per region;
- IQR fences = Q1 − 1.5·IQR … Q3 + 1.5·IQR of the training prices. Once the live window
  holds ≥ 20 predictions the anomaly monitor also reports how many fall outside them (never
  fences of the window itself, which one client's flood could widen at will).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

BELOW_FLOOR = "below_floor"
ABOVE_CEILING = "above_ceiling"
IQR_OUTLIER = "iqr_outlier"
KINDS = (BELOW_FLOOR, ABOVE_CEILING, IQR_OUTLIER)
MIN_LIVE_WINDOW = 20


@dataclass(frozen=True)
class Fences:
    q1: float
    q3: float

    @property
    def low(self) -> float:
        return self.q1 - 1.5 * (self.q3 - self.q1)

    @property
    def high(self) -> float:
        return self.q3 + 1.5 * (self.q3 - self.q1)

    def outside(self, value: float) -> bool:
        return value < self.low or value > self.high

    @classmethod
    def of(cls, values: Iterable[float]) -> Fences:
        q1, q3 = np.percentile(np.fromiter(values, float), [25, 75])
        return cls(float(q1), float(q3))

    def describe(self) -> dict[str, float]:
        return {"q1": self.q1, "q3": self.q3, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class AnomalyRules:
    floor: float
    ceiling: float
    training: Fences
    thresholds_source: str

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any],
                      limits: tuple[float, float] | None = None) -> AnomalyRules:
        prices = metadata["price_distribution"]
        floor, ceiling = limits or (prices["min"] / 2, prices["max"] * 2)
        return cls(floor=floor, ceiling=ceiling, training=Fences(prices["q1"], prices["q3"]),
                   thresholds_source="configured" if limits else "training")

    def classify(self, price: float) -> tuple[str, ...]:
        """Return the kinds of anomaly a predicted price shows (empty when normal)."""
        kinds = []
        if price < self.floor:
            kinds.append(BELOW_FLOOR)
        if price > self.ceiling:
            kinds.append(ABOVE_CEILING)
        if self.training.outside(price):
            kinds.append(IQR_OUTLIER)
        return tuple(kinds)
