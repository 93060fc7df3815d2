"""The /metrics endpoint: prometheus-flask-exporter, multiprocess under Gunicorn.

With PROMETHEUS_MULTIPROC_DIR in the environment (set before prometheus_client is first
imported: Makefile, Dockerfile, compose), every worker writes its samples to that directory
and any worker's /metrics sums them all. Without it (tests, `flask run`) each app gets a
fresh registry.
"""

from __future__ import annotations

import os

from flask import Flask, Request, request
from prometheus_client import CollectorRegistry
from prometheus_flask_exporter import PrometheusMetrics
from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

from kosprice.monitoring.metrics import LATENCY_BUCKETS

TRACKED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def path(req: Request) -> str:
    """Label requests by URL rule, so bogus paths cannot create new series."""
    return req.url_rule.rule if req.url_rule else "<unmatched>"


def init_app(app: Flask) -> CollectorRegistry:
    """Serve /metrics and record request metrics; return the registry for our own metrics."""
    options = {"group_by": path, "buckets": LATENCY_BUCKETS, "defaults_prefix": "flask"}
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        exporter = GunicornInternalPrometheusMetrics(app, **options)
    else:
        exporter = PrometheusMetrics(app, registry=CollectorRegistry(), **options)

    @app.before_request
    def untrack_unknown_methods() -> None:
        # The exporter labels requests by method, and Gunicorn accepts any token as one:
        # leave made-up methods out, or each would create new series (they still get a 405).
        if request.method not in TRACKED_METHODS:
            request.prom_do_not_track = True

    return exporter.registry
