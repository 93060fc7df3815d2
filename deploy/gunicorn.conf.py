"""Gunicorn settings for kosprice: `gunicorn -c deploy/gunicorn.conf.py wsgi:app`.

HOST and PORT choose the address; every other knob is a KOSPRICE_* setting.
"""

import multiprocessing
import os
import shutil
import sys
from pathlib import Path

from kosprice.errors import ConfigurationError
from kosprice.settings import Settings

try:
    settings = Settings.from_env()
except ConfigurationError as exc:
    sys.exit(f"kosprice: {exc.message}")

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = settings.workers or max(2, multiprocessing.cpu_count())
worker_class = "sync"  # the model call is CPU-bound: one request per process at a time
timeout = 30
graceful_timeout = 30  # SIGTERM and reloads let in-flight requests finish for this long
keepalive = 2
control_socket_disable = True  # no gunicornc: signals suffice, and test servers must not share a socket
max_requests = 0  # workers live long: models load once per process

# No preload: each worker imports the app and loads the models itself after fork. Preloading
# would share model memory copy-on-write, but then a graceful reload (HUP) keeps serving the
# models loaded in the master; without it `make reload` starts workers that load the newly
# promoted versions while the old workers finish their requests. Models are small (< 10 MB).
preload_app = False

logger_class = "kosprice.logging.GunicornLogger"
accesslog = "-"
errorlog = "-"
loglevel = settings.log_level.lower()

# prometheus_client picks its multiprocess storage at import, which happens in the workers
# after this file ran; the Makefile, Dockerfile and compose file set it, this is a fallback.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(Path(settings.state_dir, "prometheus")))


def on_starting(server):
    """Validate every model version before any worker starts; refuse to start on a problem."""
    from kosprice.ml.repository import validate

    metrics_dir = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)

    problems, serving = validate(settings.models_dir)
    for problem in problems:
        server.log.error("model integrity problem", extra={"path": str(problem.path),
                                                           "reason": problem.reason})
    if problems:
        server.log.critical("not starting: %d model integrity problem(s)", len(problems))
        sys.exit(1)
    for region, model in sorted(serving.items()):
        server.log.info("model validated", extra={"region": region,
                                                  "model_version": str(model.version)})


def child_exit(server, worker):
    from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

    GunicornInternalPrometheusMetrics.mark_process_dead_on_child_exit(worker.pid)
