"""Drift: live requests counted into the training reference bins, compared by PSI.

The bins are the ones training wrote into the model's metadata (`reference` per feature,
`prediction_reference` for the predicted price), used exactly:
- numeric bins (`edges`) follow `numpy.histogram`: [e0, e1), [e1, e2), ... [e(k-1), ek];
  the training values all lie within [e0, ek], so values outside the edges exist only live.
  They are kept apart when counted (slot 0 below, slot k+1 above, so the report can say how
  many fell outside the training range) and merged into the end bins for the PSI, as if the
  outer edges were -inf and +inf: that leaves every training count unchanged and keeps a
  value just past the training maximum from weighing like a never-seen category;
- value bins (`values`: categories, flags, small integer counts) match a live value to a
  reference value by number when the reference values are numbers ("1" == 1 == 1.0), by
  text otherwise; a value training never saw counts in one extra "unseen" slot, whose
  reference share is 0.

PSI = sum over bins of (live - reference) * ln(live / reference), shares of each total, an
empty bin's share replaced by EPSILON. Below 0.1 stable, 0.1-0.25 moderate, above significant.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kosprice.features import TEXT_FEATURES

PREDICTED_PRICE = "predicted_price"
EPSILON = 1e-4
MODERATE, SIGNIFICANT = 0.1, 0.25
STABLE_STATUS, MODERATE_STATUS, SIGNIFICANT_STATUS = "stable", "moderate", "significant"
INSUFFICIENT_DATA = "insufficient data"
NO_REFERENCE = "no reference"
MISSING = "-"
"""The slot of a value that could not be binned (absent from the listing)."""


def psi(reference: Sequence[float], live: Sequence[float], epsilon: float = EPSILON) -> float:
    """Population stability index of live counts against reference counts (same bins)."""
    ref_total, live_total = sum(reference), sum(live)
    if ref_total <= 0 or live_total <= 0:
        raise ValueError("PSI needs counts in both distributions")
    total = 0.0
    for r, a in zip(reference, live, strict=True):
        expected, actual = max(r / ref_total, epsilon), max(a / live_total, epsilon)
        total += (actual - expected) * math.log(actual / expected)
    return total


def status_of(value: float) -> str:
    if value < MODERATE:
        return STABLE_STATUS
    return MODERATE_STATUS if value <= SIGNIFICANT else SIGNIFICANT_STATUS


_SEVERITY = {STABLE_STATUS: 0, MODERATE_STATUS: 1, SIGNIFICANT_STATUS: 2}


def _as_number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class Bins:
    """One feature's reference bins, as training recorded them."""

    name: str
    counts: tuple[int, ...]
    edges: tuple[float, ...] = ()
    values: tuple[str, ...] = ()
    _lookup: dict[object, int] = field(init=False, repr=False, compare=False)
    _numeric: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Reference values that are all numbers match live numbers ("1" == 1 == 1.0).
        numeric = all(_as_number(v) is not None for v in self.values)
        lookup = {(_as_number(v) if numeric else v): i for i, v in enumerate(self.values)}
        object.__setattr__(self, "_lookup", lookup)
        object.__setattr__(self, "_numeric", numeric)

    @classmethod
    def parse(cls, name: str, raw: Mapping[str, Any]) -> Bins:
        """Read a metadata entry; ValueError when it is not a usable set of bins."""
        counts = tuple(int(c) for c in raw["counts"])
        if "edges" in raw:
            edges = tuple(float(e) for e in raw["edges"])
            if len(edges) != len(counts) + 1 or list(edges) != sorted(set(edges)):
                raise ValueError("edges must be increasing, one more than the counts")
            bins = cls(name, counts, edges=edges)
        else:
            values = tuple(str(v) for v in raw["values"])
            if len(values) != len(counts) or len(set(values)) != len(values):
                raise ValueError("values must be distinct, one per count")
            bins = cls(name, counts, values=values)
        if not counts or min(counts) < 0 or sum(counts) == 0:
            raise ValueError("counts must be non-negative with a positive total")
        return bins

    @property
    def slots(self) -> int:
        """How many slots live values are counted in (reference bins plus outside ones)."""
        return len(self.counts) + (2 if self.edges else 1)

    def slot(self, value: object) -> int | None:
        """The slot a live value counts in; None when it cannot be placed at all."""
        if self.edges:
            number = _as_number(value)
            if number is None:
                return None
            if number > self.edges[-1]:
                return len(self.counts) + 1
            # bisect_right - 1 is the bin whose left edge is <= number; the last bin is
            # closed on the right, like numpy.histogram's.
            return min(bisect_right(self.edges, number), len(self.counts))
        key = _as_number(value) if self._numeric else str(value)
        return self._lookup.get(key, len(self.counts))

    def slots_of(self, values: Sequence[object]) -> list[str]:
        """`slot_name` of each value: numbers against edges in one numpy step, other values
        once per distinct value."""
        if self.edges and all(type(v) is float or type(v) is int for v in values):
            try:
                numbers = np.asarray(values, dtype=float)
            except OverflowError:  # an int beyond float: one by one, as `slot` does
                numbers = None
            if numbers is not None:
                above = len(self.counts) + 1
                names = [*map(str, range(above + 1)), MISSING]
                slots = np.minimum(np.searchsorted(self.edges, numbers, side="right"),
                                   len(self.counts))
                slots[numbers > self.edges[-1]] = above
                slots[~np.isfinite(numbers)] = above + 1
                return [names[i] for i in slots.tolist()]
        seen: dict[tuple[type, object], str] = {}
        found = []
        for value in values:
            key = (type(value), value)
            try:
                name = seen[key]
            except (KeyError, TypeError):  # new, or unhashable (then not remembered)
                name = self.slot_name(value)
                try:
                    seen[key] = name
                except TypeError:
                    pass
            found.append(name)
        return found

    def slot_name(self, value: object) -> str:
        """`slot` as the store writes it: MISSING when the value cannot be placed."""
        slot = None if value is None else self.slot(value)
        return MISSING if slot is None else str(slot)

    def compare(self, live: Sequence[int]) -> dict[str, Any]:
        """PSI and per-bin shares of live slot counts against the reference."""
        live = list(live) + [0] * (self.slots - len(live))
        if self.edges:  # the outside slots join the end bins: edges of -inf and +inf
            merged = list(live[1:-1])
            merged[0] += live[0]
            merged[-1] += live[-1]
            reference = list(self.counts)
            labels: list[Any] = [[self.edges[i], self.edges[i + 1]]
                                 for i in range(len(self.counts))]
        else:
            merged, reference = live, [*self.counts, 0]
            labels = [*self.values, "unseen"]
        value = psi(reference, merged)
        ref_total, live_total = sum(reference), sum(merged)
        report: dict[str, Any] = {
            "psi": round(value, 4), "status": status_of(value),
            "bins": [{"bin": label, "reference": round(r / ref_total, 4),
                      "live": round(a / live_total, 4)}
                     for label, r, a in zip(labels, reference, merged, strict=True)]}
        if self.edges:
            report["outside_training_range"] = {"below": live[0], "above": live[-1]}
        return report


@dataclass(frozen=True)
class DriftReference:
    """A model version's reference bins, in the order live slots are encoded."""

    bins: tuple[Bins, ...]
    unavailable: dict[str, str]
    """Features (and the predicted price) the metadata has no usable bins for, and why."""

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> DriftReference:
        """Read whatever bins the metadata has; never raise (a missing reference is reported)."""
        reference = metadata.get("reference")
        reference = reference if isinstance(reference, Mapping) else {}
        features = metadata.get("features")
        names = [*(features if isinstance(features, list) else reference), PREDICTED_PRICE]
        bins, unavailable = [], {}
        for name in dict.fromkeys(names):
            if name in TEXT_FEATURES:  # free text (the title) has no bins to drift from
                continue
            raw = (metadata.get("prediction_reference") if name == PREDICTED_PRICE
                   else reference.get(name))
            if raw is None:
                unavailable[name] = "no reference bins in this model's metadata"
                continue
            try:
                bins.append(Bins.parse(name, raw))
            except (KeyError, TypeError, ValueError) as exc:
                unavailable[name] = f"unusable reference bins: {exc}"
        return cls(tuple(bins), unavailable)

    def encode(self, row: Mapping[str, object], price: float) -> str | None:
        """The live slots of one prediction, comma-separated in `bins` order (the store's
        format); None when there are no bins to count in."""
        if not self.bins:
            return None
        return ",".join(bins.slot_name(price if bins.name == PREDICTED_PRICE
                                       else row.get(bins.name)) for bins in self.bins)

    def encode_many(self, rows: Sequence[Mapping[str, object]],
                    prices: Sequence[float]) -> list[str | None]:
        """`encode` of each (row, price), one bin at a time over the whole batch."""
        if not self.bins:
            return [None] * len(rows)
        columns = [bins.slots_of(list(prices) if bins.name == PREDICTED_PRICE
                                 else [row.get(bins.name) for row in rows])
                   for bins in self.bins]
        return [",".join(slots) for slots in zip(*columns, strict=True)]

    def report(self, predictions: int, counts: Mapping[tuple[int, int], int],
               min_sample: int) -> dict[str, Any]:
        """PSI per feature and for the predicted price, from a version's live slot counts
        {(bin index, slot): count} over `predictions` predictions."""
        entries: dict[str, Any] = {}
        enough = predictions >= min_sample
        for index, bins in enumerate(self.bins):
            live = [counts.get((index, slot), 0) for slot in range(bins.slots)]
            entries[bins.name] = (bins.compare(live) if enough and sum(live)
                                  else {"psi": None, "status": INSUFFICIENT_DATA})
        for name, reason in self.unavailable.items():
            entries[name] = {"psi": None, "status": NO_REFERENCE, "reason": reason}
        statuses = [e["status"] for e in entries.values() if e["status"] in _SEVERITY]
        if not self.bins:
            overall, message = NO_REFERENCE, "this model's metadata has no reference bins"
        elif not enough:
            overall = INSUFFICIENT_DATA
            message = (f"{predictions} predictions in the window; PSI is reported from "
                       f"{min_sample}")
        else:
            overall = max(statuses, key=_SEVERITY.get) if statuses else INSUFFICIENT_DATA
            message = None
        prediction = entries.pop(PREDICTED_PRICE)
        return {"status": overall, "message": message, "features": entries,
                PREDICTED_PRICE: prediction}
