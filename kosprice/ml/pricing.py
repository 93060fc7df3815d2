"""From a model's raw price to what a client is told: a rounded price, an interval,
warnings about inputs and prices outside the training data, and a fair-price verdict.

Kept apart from the model call (`predictor.predict`) on purpose: it needs only the raw
price, the listing and the model's metadata, so the single and batch paths share it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import numpy as np

from kosprice.features import FEATURES
from kosprice.ml.intervals import DEFAULT_LEVEL, interval, level_key
from kosprice.ml.title import TITLE, has_title

TITLE_MISSING = {
    "code": "title_missing", "feature": TITLE,
    "message": "this model reads the listing title: without one it prices the listing from "
               "the other inputs alone, with a price range calibrated for that"}
PRICE_UNIT = 1_000
"""Prices are rounded to Rp 1,000: the models' errors are hundreds of thousands."""


def round_price(value: float, how=round) -> int:
    return int(how(value / PRICE_UNIT) * PRICE_UNIT)


@dataclass(frozen=True)
class PricedPrediction:
    predicted_price: int
    price_range: dict[str, Any] | None
    warnings: list[dict[str, Any]] = field(default_factory=list)
    verdict: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        body = {"predicted_price": self.predicted_price, "price_range": self.price_range,
                "warnings": self.warnings}
        if self.verdict is not None:
            body["verdict"] = self.verdict
        return body


def training_ranges(inputs: Any) -> dict[str, dict[str, Any]]:
    """Per model feature, what the training rows held: [min, max] or the values seen (free
    text: nothing)."""
    ranges = {}
    for column in inputs.columns:
        if FEATURES[column].kind == "text":
            continue
        values = inputs[column]
        if FEATURES[column].kind == "category":
            ranges[column] = {"values": sorted(str(v) for v in values.unique())}
        else:
            ranges[column] = {"min": float(values.min()), "max": float(values.max())}
    return ranges


def input_warnings(row: Mapping[str, Any], ranges: Mapping[str, Mapping[str, Any]],
                   ) -> list[dict[str, Any]]:
    """One warning per model input outside what the model was trained on."""
    found = []
    for feature, seen in ranges.items():
        if feature not in row:
            continue
        value = row[feature]
        if "values" in seen:
            if str(value) not in seen["values"]:
                found.append({"code": "outside_training_range", "feature": feature,
                              "value": value, "training_values": list(seen["values"])})
        elif not seen["min"] <= value <= seen["max"]:
            found.append({"code": "outside_training_range", "feature": feature,
                          "value": value, "training_range": [seen["min"], seen["max"]]})
    return found


def bounded_price(raw: float, prices: Mapping[str, float] | None,
                  ) -> tuple[float, list[dict[str, Any]]]:
    """Keep a price inside the training prices [min, max]; say so when it had to move.

    Models chosen by the search cannot predict <= 0 (log target or a forest), but an
    older version (a rollback target) can: it is never served as is.
    """
    if prices is None:
        low, high = float(PRICE_UNIT), math.inf
    else:
        low, high = float(prices["min"]), float(prices["max"])
    if not math.isfinite(raw) or raw < low:
        bound = low
    elif raw > high:
        bound = high
    else:
        return raw, []
    return bound, [{"code": "price_clamped", "raw_price": raw if math.isfinite(raw) else None,
                    "bound": bound, "message": "the model's price lay outside the training "
                                               "prices and was moved to the nearest one"}]


def verdict(offered: float, price: float, low: float, high: float) -> dict[str, Any]:
    """Judge an offered rent against the interval; the difference is from the prediction."""
    label = "underpriced" if offered < low else "overpriced" if offered > high else "fair"
    return {"label": label, "harga_tawaran": offered,
            "difference_pct": round((offered - price) / price * 100, 1)}


def price_listing(raw: float, row: Mapping[str, Any], metadata: Mapping[str, Any],
                  level: float = DEFAULT_LEVEL, offered: float | None = None,
                  ) -> PricedPrediction:
    """Describe one prediction: `row` holds the model's inputs (derived ones included)."""
    price, warnings = bounded_price(raw, metadata.get("price_distribution"))
    warnings = input_warnings(row, metadata.get("training_ranges") or {}) + warnings
    calibrated = metadata.get("intervals")
    if TITLE in row and not has_title(row[TITLE]):
        warnings.append(TITLE_MISSING)
        calibrated = metadata.get("intervals_without_title")
    bounds = (calibrated or {}).get("bounds", {}).get(level_key(level))
    price_range = judged = None
    if bounds is None:
        warnings.append({"code": "interval_unavailable",
                         "message": f"model {metadata.get('model_version')} has no calibrated "
                                    f"interval at level {level:g}"})
    else:
        low, high = interval(price, bounds)
        price_range = {"low": round_price(low, math.floor), "high": round_price(high, math.ceil),
                       "level": level}
        if offered is not None:
            judged = verdict(offered, price, low, high)
    if offered is not None and judged is None:
        judged = {"label": None, "harga_tawaran": offered,
                  "difference_pct": round((offered - price) / price * 100, 1)}
    return PricedPrediction(round_price(price), price_range, warnings, judged)




_EXACT_LIMIT = 2.0 ** 52
"""Below this, float64 rounds, floors and compares like Python's exact integers do."""


def price_batch(raw: Sequence[float], rows: Sequence[Mapping[str, Any]],
                metadata: Mapping[str, Any],
                asked: Mapping[int, tuple[float, float | None]] | None = None,
                ) -> list[dict[str, Any]]:
    """`price_listing(...).as_dict()` of each row, the common rows priced as numpy columns.

    A common row is priced at the default level, without an offer, inside the training
    prices (and, for a title model, with a title): a rounded price, an interval and its
    input warnings, found one feature column at a time. Every other row (one in `asked`,
    which maps a row number to its requested (level, offered price), a clamped one, or a
    title model's row without a title) goes through `price_listing` itself, and so
    does the whole batch when its columns hold anything unusual; a test compares the two on
    random batches (tests/unit/test_pricing_batch.py).
    """
    asked = asked or {}
    prices = np.asarray(raw, dtype=float)
    bounds = (metadata.get("intervals") or {}).get("bounds", {}).get(level_key(DEFAULT_LEVEL))
    common = np.zeros(len(prices), dtype=bool)
    warnings = None
    if bounds is not None and len(prices):
        warnings = _input_warnings_by_row(rows, metadata.get("training_ranges") or {})
    if warnings is not None:
        # interval() and round_price() of every row in the same float64 operations: the
        # exponential once, then a product, a division, floor / ceil / rint (half-even, as
        # round() is) and a product, exact below 2**52.
        with np.errstate(all="ignore"):
            low = np.floor(prices * math.exp(bounds[0]) / PRICE_UNIT) * PRICE_UNIT
            high = np.ceil(prices * math.exp(bounds[1]) / PRICE_UNIT) * PRICE_UNIT
            rounded = np.rint(prices / PRICE_UNIT) * PRICE_UNIT
            common = (_unclamped(prices, metadata.get("price_distribution"))
                      & (np.abs(low) < _EXACT_LIMIT) & (np.abs(high) < _EXACT_LIMIT)
                      & (np.abs(rounded) < _EXACT_LIMIT))
        for number in asked:
            common[number] = False
        # A title model's listing without a title takes the twin's range and a warning.
        common &= np.fromiter((TITLE not in row or has_title(row[TITLE]) for row in rows),
                              dtype=bool, count=len(rows))
    bodies: list[dict[str, Any]] = [{}] * len(prices)
    if warnings is not None and common.any():
        for number, p, lo, hi in zip(np.flatnonzero(common).tolist(),
                                     rounded[common].astype(np.int64).tolist(),
                                     low[common].astype(np.int64).tolist(),
                                     high[common].astype(np.int64).tolist(), strict=True):
            bodies[number] = {"predicted_price": p,
                              "price_range": {"low": lo, "high": hi, "level": DEFAULT_LEVEL},
                              "warnings": warnings[number]}
    for number in np.flatnonzero(~common).tolist():
        level, offered = asked.get(number, (DEFAULT_LEVEL, None))
        bodies[number] = price_listing(float(prices[number]), rows[number], metadata, level,
                                       offered).as_dict()
    return bodies


def _unclamped(prices: np.ndarray, distribution: Mapping[str, float] | None) -> np.ndarray:
    """Which prices `bounded_price` leaves as they are."""
    low, high = ((float(PRICE_UNIT), math.inf) if distribution is None
                 else (float(distribution["min"]), float(distribution["max"])))
    return np.isfinite(prices) & (prices >= low) & (prices <= high)


def _input_warnings_by_row(rows: Sequence[Mapping[str, Any]],
                           ranges: Mapping[str, Mapping[str, Any]],
                           ) -> list[list[dict[str, Any]]] | None:
    """`input_warnings` of each row, one feature column at a time; None when a column holds
    anything but numbers (strings for a category), misses a row, or a range has a shape
    `input_warnings` may read otherwise."""
    found: list[list[dict[str, Any]]] = [[] for _ in rows]
    for feature, seen in ranges.items():
        try:
            column = list(map(itemgetter(feature), rows))
        except KeyError:  # input_warnings skips a row without the feature
            return None
        types = set(map(type, column))
        if seen.keys() == {"values"}:
            if types != {str}:
                return None
            allowed = set(seen["values"])
            if allowed.issuperset(column):
                continue
            for number, value in enumerate(column):
                if value not in allowed:
                    found[number].append({"code": "outside_training_range", "feature": feature,
                                          "value": value,
                                          "training_values": list(seen["values"])})
        elif seen.keys() == {"min", "max"}:
            if not types <= {float, int}:
                return None
            try:
                values = np.asarray(column, dtype=float)
            except OverflowError:  # an integer beyond float64
                return None
            if not (np.abs(values) < _EXACT_LIMIT).all():
                return None
            low, high = seen["min"], seen["max"]
            for number in np.flatnonzero(~((values >= low) & (values <= high))).tolist():
                found[number].append({"code": "outside_training_range", "feature": feature,
                                      "value": column[number], "training_range": [low, high]})
        else:
            return None
    return found
