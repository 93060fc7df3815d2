"""The /metrics endpoint: prometheus-flask-exporter, multiprocess under Gunicorn.

With PROMETHEUS_MULTIPROC_DIR in the environment (set before prometheus_client is first
imported: Makefile, Dockerfile, compose), every worker writes its samples to that directory
and any worker's /metrics sums them all. Without it (tests, `flask run`) each app gets a
fresh registry.
"""

from __future__ import annotations

import os

from flask import Flask, Request
from prometheus_client import CollectorRegistry
from prometheus_flask_exporter import PrometheusMetrics
from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

from kosprice.monitoring.metrics import LATENCY_BUCKETS


def path(request: Request) -> str:
    """Label requests by URL rule, so bogus paths cannot create new series."""
    return request.url_rule.rule if request.url_rule else "<unmatched>"


def init_app(app: Flask) -> CollectorRegistry:
    """Serve /metrics and record request metrics; return the registry for our own metrics."""
    options = {"group_by": path, "buckets": LATENCY_BUCKETS, "defaults_prefix": "flask"}
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        exporter = GunicornInternalPrometheusMetrics(app, **options)
    else:
        exporter = PrometheusMetrics(app, registry=CollectorRegistry(), **options)
    return exporter.registry
