"""The /metrics endpoint: prometheus-flask-exporter, multiprocess under Gunicorn.

With PROMETHEUS_MULTIPROC_DIR in the environment (set before prometheus_client is first
imported: Makefile, Dockerfile, compose), every worker writes its samples to that directory
and any worker's /metrics sums them all. Without it (tests, `flask run`) each app gets a
fresh registry.

Collectors that compute their samples at scrape time from the shared store (drift) are
added with `collect_at_scrape`: in multiprocess mode the exporter builds a fresh registry
for every scrape, so they are registered into it there.
"""

from __future__ import annotations

import os

from flask import Flask, Request, request
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from prometheus_flask_exporter import PrometheusMetrics
from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

from kosprice.monitoring.metrics import LATENCY_BUCKETS

EXTENSION = "kosprice.prometheus"


class _MultiprocessMetrics(GunicornInternalPrometheusMetrics):
    """The exporter's multiprocess /metrics, plus the collectors computed at scrape time."""

    scrape_collectors: list[Collector]

    def generate_metrics(self, accept_header=None, names=None):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        for collector in self.scrape_collectors:
            registry.register(collector)
        if names:
            registry = registry.restricted_registry(names)
        generate_latest, content_type = choose_encoder(accept_header)
        return generate_latest(registry).decode("utf-8"), content_type


TRACKED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def path(req: Request) -> str:
    """Label requests by URL rule, so bogus paths cannot create new series."""
    return req.url_rule.rule if req.url_rule else "<unmatched>"


def init_app(app: Flask) -> CollectorRegistry:
    """Serve /metrics and record request metrics; return the registry for our own metrics."""
    options = {"group_by": path, "buckets": LATENCY_BUCKETS, "defaults_prefix": "flask"}
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        exporter = _MultiprocessMetrics(app, **options)
        exporter.scrape_collectors = []
    else:
        exporter = PrometheusMetrics(app, registry=CollectorRegistry(), **options)

    @app.before_request
    def untrack_unknown_methods() -> None:
        # The exporter labels requests by method, and Gunicorn accepts any token as one:
        # leave made-up methods out, or each would create new series (they still get a 405).
        if request.method not in TRACKED_METHODS:
            request.prom_do_not_track = True

    app.extensions[EXTENSION] = exporter
    return exporter.registry


def collect_at_scrape(app: Flask, collector: Collector) -> None:
    """Serve `collector`'s samples on /metrics, computed when it is scraped."""
    exporter = app.extensions[EXTENSION]
    if isinstance(exporter, _MultiprocessMetrics):
        exporter.scrape_collectors.append(collector)
    else:
        exporter.registry.register(collector)
