"""Proof, at every load, that the fast path prices exactly like the scikit-learn Pipeline.

The check rows are random listings across the catalogue's bounds (every flag and category
combination is likely among them) plus, for tree ensembles, listings whose numbers land
within a few float64 ulps of the split thresholds after scaling — where a float32-vs-float64
slip would send a row down the other branch. Both evaluation strategies (the numpy walk and
the per-tree compiled call) are compared with `Pipeline.predict` on a DataFrame. A title
model's two pipelines are each checked so (the titled one on titles made of its own words,
unknown words and odd case among them), then the routing on listings with and without one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kosprice.features import FEATURES, INPUT_FEATURES, derive
from kosprice.ml.fastpath import SMALL_BATCH, FastModel, TitleRouted
from kosprice.ml.title import TITLE, TitleFallback

RELATIVE_TOLERANCE = 1e-6
ABSOLUTE_TOLERANCE = 1e-6
"""Rupiah: only matters for a prediction within a Rupiah of zero."""

RANDOM_ROWS = 400
BOUNDARY_THRESHOLDS = 150
"""Split thresholds sampled per numeric input; each gives five listings around it."""


@dataclass(frozen=True)
class Verdict:
    rows: int
    max_relative_error: float
    mismatches: int

    @property
    def exact(self) -> bool:
        return self.mismatches == 0


def _random_value(name: str, rng: np.random.Generator) -> object:
    feature = FEATURES[name]
    if feature.kind == "category":
        return str(rng.choice(feature.choices))
    if feature.kind == "flag":
        return int(rng.integers(0, 2))
    low, high = float(feature.minimum), float(feature.maximum)
    value = float(rng.uniform(low, high))
    return value if value > low or not feature.exclusive_minimum else high / 2


def random_listings(n: int, seed: int = 0) -> list[dict]:
    """Listings drawn uniformly across the catalogue's bounds (and its edges)."""
    rng = np.random.default_rng(seed)
    rows = [{name: _random_value(name, rng) for name in INPUT_FEATURES} for _ in range(n)]
    for row, edge in zip(rows, ("minimum", "maximum"), strict=False):  # the bounds themselves
        for name in INPUT_FEATURES:
            feature = FEATURES[name]
            if feature.kind == "number" and not (edge == "minimum" and feature.exclusive_minimum):
                row[name] = float(getattr(feature, edge))
    return rows


def boundary_listings(fast: FastModel, seed: int = 1) -> list[dict]:
    """Listings whose scaled numbers sit on and around the trees' split thresholds."""
    flat = getattr(fast.regressor, "flat", None)
    block = next((b for b in fast.encoder.blocks if b.kind == "affine"), None)
    if flat is None or block is None:
        return []
    rng = np.random.default_rng(seed)
    base = random_listings(1, seed)[0]
    listings = []
    for column, name in enumerate(block.inputs):
        feature = FEATURES[name]
        if feature.kind != "number" or feature.derived:
            continue
        internal = (flat.feature == column) & flat.internal
        thresholds = np.unique(flat.threshold[internal])
        if len(thresholds) > BOUNDARY_THRESHOLDS:
            thresholds = rng.choice(thresholds, BOUNDARY_THRESHOLDS, replace=False)
        for threshold in thresholds:
            raw = _unscale(block, column, threshold)
            for ulps in (-2, -1, 0, 1, 2):
                value = float(raw + ulps * np.spacing(raw))
                if feature.accepts(value):
                    listings.append({**base, **_random_flags(rng), name: value})
    return listings


def _unscale(block, column: int, value: float) -> float:
    """The raw number the block maps (approximately) to `value`."""
    if block.add is not None:
        value = value - block.add[column]
    if block.multiply is not None:
        value = value / block.multiply[column]
    if block.divide is not None:
        value = value * block.divide[column]
    if block.shift is not None:
        value = value + block.shift[column]
    return float(value)


def _random_flags(rng: np.random.Generator) -> dict:
    return {name: int(rng.integers(0, 2)) for name in INPUT_FEATURES
            if FEATURES[name].kind == "flag"}


def with_titles(fast: FastModel, listings: list[dict], seed: int = 2) -> list[dict]:
    """The listings with random titles when the model reads one: words of its vocabulary,
    some capitalised or upper-case, a word it never saw, digits and punctuation."""
    words = [list(b.codes[0]) for b in fast.encoder.blocks if b.kind == "words"]
    if not words:
        return listings
    rng = np.random.default_rng(seed)
    vocabulary = sorted(words[0])
    titled = []
    for number, listing in enumerate(listings):
        picked = [str(w) for w in rng.choice(vocabulary, int(rng.integers(0, 9)))]
        picked = [w.upper() if number % 3 == 0 else w.title() for w in picked]
        unknown = ["Zzyzx", f"No.{number}", "-"][:number % 4]
        titled.append({**listing, TITLE: " ".join(["Kost", *picked, *unknown])})
    return titled


def check_listings(fast: FastModel, extra: Sequence[Mapping] = ()) -> list[dict]:
    return with_titles(fast, [*random_listings(RANDOM_ROWS), *boundary_listings(fast)]) \
        + list(extra)


def compare(expected: np.ndarray, actual: np.ndarray) -> Verdict:
    error = np.abs(np.asarray(actual, np.float64) - expected)
    allowed = RELATIVE_TOLERANCE * np.abs(expected) + ABSOLUTE_TOLERANCE
    bad = ~(error <= allowed)  # NaN counts as a mismatch
    relative = error / np.maximum(np.abs(expected), 1e-300)
    return Verdict(len(expected), float(np.max(relative, initial=0.0)), int(bad.sum()))


def verify(fast: FastModel | TitleRouted, pipeline: object, features: Sequence[str],
           extra: Sequence[Mapping] = ()) -> Verdict:
    """Compare the fast path's both strategies with `pipeline.predict` on the check rows."""
    if isinstance(fast, TitleRouted) and isinstance(pipeline, TitleFallback):
        return _verify_routed(fast, pipeline, features, extra)
    listings = check_listings(fast, extra)
    expected = _expected(pipeline, features, listings)
    X = fast.encoder.encode(listings)
    small = np.concatenate([fast.predict_matrix(X[i:i + SMALL_BATCH], small=True)
                            for i in range(0, len(X), SMALL_BATCH)])
    large = fast.predict_matrix(X, small=False)
    one = fast.predict(listings[:1])  # the one-row request path, end to end
    verdicts = [compare(expected, small), compare(expected, large),
                compare(expected[:1], one)]
    return Verdict(len(listings), max(v.max_relative_error for v in verdicts),
                   sum(v.mismatches for v in verdicts))


def _expected(pipeline: object, features: Sequence[str], listings: Sequence[Mapping]) -> np.ndarray:
    frame = pd.DataFrame([derive(row, features) for row in listings], columns=list(features))
    return np.asarray(pipeline.predict(frame), dtype=np.float64)


def _verify_routed(fast: TitleRouted, model: TitleFallback, features: Sequence[str],
                   extra: Sequence[Mapping]) -> Verdict:
    """Each pipeline against its fast path, then the routing: titled, blank, left out."""
    structured = [f for f in features if f != TITLE]
    parts = [verify(fast.with_title, model.with_title_, features, extra),
             verify(fast.without_title, model.without_title_, structured)]
    titled = with_titles(fast.with_title, random_listings(60, seed=3))
    mixed = [row if i % 3 == 0 else {**row, TITLE: " " * (i % 2)} if i % 3 == 1
             else {k: v for k, v in row.items() if k != TITLE} for i, row in enumerate(titled)]
    parts.append(compare(_expected(model, features, mixed), fast.predict(mixed)))
    return Verdict(sum(v.rows for v in parts), max(v.max_relative_error for v in parts),
                   sum(v.mismatches for v in parts))
