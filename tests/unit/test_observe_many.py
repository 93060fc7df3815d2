"""A batch's prices observed at once land in the histogram exactly as one by one."""

from __future__ import annotations

import math
import random

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from kosprice.monitoring.metrics import PRICE_BUCKETS, observe_many


def exposition(values, at_once: bool) -> bytes:
    registry = CollectorRegistry()
    histogram = Histogram("p", "prices", ["region"], buckets=PRICE_BUCKETS, registry=registry)
    child = histogram.labels("r")
    child.observe(1_234_000)  # an earlier request
    if at_once:
        observe_many(child, values)
    else:
        for value in values:
            child.observe(value)
    return b"\n".join(line for line in generate_latest(registry).splitlines()
                      if not line.startswith(b"p_created"))


@pytest.mark.parametrize("seed", range(5))
def test_whole_rupiah_prices_at_once_equal_one_by_one(seed):
    rng = random.Random(seed)
    values = [rng.choice([*PRICE_BUCKETS, rng.randrange(0, 20_000_000, 1_000), 0, -5_000,
                          10**12]) for _ in range(rng.randint(8, 1_500))]
    assert exposition(values, True) == exposition(values, False)


@pytest.mark.parametrize("values", [[1.0] * 3, [math.nan] * 10, [math.inf, 1.0] * 5,
                                    [1e308] * 10])
def test_few_or_odd_values_are_observed_one_by_one(values):
    assert exposition(values, True) == exposition(values, False)
