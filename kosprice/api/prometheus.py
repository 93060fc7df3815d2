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
from timeit import default_timer

from flask import Flask, Request, Response, current_app, request
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from prometheus_flask_exporter import NO_PREFIX, PrometheusMetrics, _to_status_code
from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

from kosprice.monitoring.metrics import LATENCY_BUCKETS

EXTENSION = "kosprice.prometheus"


class _LeanDefaults:
    """The exporter's default request metrics (the same names, help, labels and buckets),
    recorded by lighter hooks.

    `PrometheusMetrics.export_defaults`'s hooks look up the labelled series of every request
    through `labels()` (validation, a lock, a dict) and reach Flask's request proxy a dozen
    times; these hooks keep each series once looked up and read the request once. What is
    counted, and when, is the exporter's: duration and total in `after_request`, or at
    teardown (as status 500) for a request that raised, once; exceptions at teardown;
    nothing for a request marked `prom_do_not_track` or `prom_exclude_all`. Configurations
    these hooks do not cover (default labels, excluded paths, a group named by attribute,
    a summary) get the exporter's own.
    """

    def export_defaults(self, buckets=None, group_by="path", latency_as_histogram=True,
                        prefix="flask", app=None, **kwargs):
        if (kwargs or not callable(group_by) or not latency_as_histogram or not prefix
                or prefix == NO_PREFIX or self._default_labels or self.excluded_paths):
            return super().export_defaults(buckets, group_by, latency_as_histogram, prefix,
                                           app, **kwargs)
        app = app or self.app or current_app
        try:
            self.info(f"{prefix}_exporter_info",
                      "Information about the Prometheus Flask exporter", version=self.version)
        except ValueError:
            return None  # already exported for this registry
        group = group_by.__name__
        duration = Histogram(
            f"{prefix}_http_request_duration_seconds", "Flask HTTP request duration in seconds",
            ("method", group, "status"), registry=self.registry,
            **({"buckets": buckets} if buckets is not None else {}))
        total = Counter(f"{prefix}_http_request_total", "Total number of HTTP requests",
                        ("method", "status"), registry=self.registry)
        exceptions = Counter(
            f"{prefix}_http_request_exceptions_total",
            "Total number of HTTP requests which resulted in an exception",
            ("method", "status"), registry=self.registry)
        series: dict[tuple, tuple] = {}  # (method, group, status) -> (duration, total)

        def untracked(req: Request) -> bool:
            return hasattr(req, "prom_do_not_track") or hasattr(req, "prom_exclude_all")

        def record(req: Request, status: int) -> None:
            if hasattr(req, "prom_defaults_reported"):
                return
            req.prom_defaults_reported = True
            key = (req.method, group_by(req), status)
            found = series.get(key)
            if found is None:
                found = series[key] = (
                    duration.labels(**{"method": key[0], group: key[1], "status": status}),
                    total.labels(method=key[0], status=status))
            started = getattr(req, "prom_start_time", None)
            if started is not None:
                found[0].observe(max(default_timer() - started, 0))
            found[1].inc()

        def before_request() -> None:
            request.prom_start_time = default_timer()

        def after_request(response: Response) -> Response:
            req = request._get_current_object()
            if not untracked(req):
                record(req, _to_status_code(response.status_code))
            return response

        def teardown_request(exception=None) -> None:
            req = request._get_current_object()
            if exception is None or untracked(req):
                return
            exceptions.labels(method=req.method, status=500).inc()
            record(req, 500)

        app.before_request(before_request)
        app.after_request(after_request)
        app.teardown_request(teardown_request)
        return None


class _Metrics(_LeanDefaults, PrometheusMetrics):
    """The exporter, one process (tests, `flask run`)."""


class _MultiprocessMetrics(_LeanDefaults, GunicornInternalPrometheusMetrics):
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
        exporter = _Metrics(app, registry=CollectorRegistry(), **options)

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
