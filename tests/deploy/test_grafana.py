"""The Grafana dashboard: the region selector filters every panel whose metric has a region."""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry

from kosprice.monitoring.metrics import Metrics
from tests.promql import dashboard_queries

SELECTOR = re.compile(r"\b(kosprice_\w+?)(_bucket|_count|_sum|_total)?\b(\{[^}]*\})?")


def regional_metrics() -> set[str]:
    metrics = Metrics(CollectorRegistry())
    names = {metric._name for metric in vars(metrics).values()
             if "region" in getattr(metric, "_labelnames", ())}
    return names | {"kosprice_drift_psi", "kosprice_drift_window_predictions"}


def test_every_regional_metric_on_the_dashboard_follows_the_region_selector():
    regional, checked = regional_metrics(), 0
    assert "kosprice_request_latency_seconds" in regional
    for key, expr in dashboard_queries().items():
        if key.startswith("variable "):
            continue  # the template variable's own query lists the regions
        for name, _, matchers in SELECTOR.findall(expr):
            if name in regional or f"{name}_total" in regional:
                checked += 1
                assert 'region=~"$region"' in matchers, f"{key}: {expr}"
    assert checked >= 10


def test_request_latency_is_shown_per_region():
    exprs = [expr for expr in dashboard_queries().values()
             if "kosprice_request_latency_seconds_bucket" in expr]
    assert exprs and all("by (le, region)" in expr for expr in exprs)
