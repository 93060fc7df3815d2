"""Summary statistics over monitoring windows."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

PERCENTILES = (50, 90, 95, 99)


def summarize(values: Iterable[float], digits: int = 2) -> dict[str, float | int | None]:
    """Count, mean, std, min, max and p50/p90/p95/p99; None for all but count when empty."""
    data = np.fromiter(values, float)
    keys = ["mean", "std", "min", "max", *(f"p{p}" for p in PERCENTILES)]
    if data.size == 0:
        return {"count": 0, **dict.fromkeys(keys)}
    numbers = [data.mean(), data.std(), data.min(), data.max(),
               *np.percentile(data, PERCENTILES)]
    rounded = {k: round(float(v), digits) for k, v in zip(keys, numbers, strict=True)}
    return {"count": int(data.size), **rounded}
