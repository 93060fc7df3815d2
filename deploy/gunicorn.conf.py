"""Gunicorn settings for kosprice: `gunicorn -c deploy/gunicorn.conf.py wsgi:app`.

HOST and PORT choose the address; every other knob is a KOSPRICE_* setting.
"""

import os
import sys
from pathlib import Path

from kosprice.errors import ConfigurationError
from kosprice.gunicorn_http import install as install_http_answers
from kosprice.logging import LogRotator
from kosprice.ml.signing import Signer
from kosprice.settings import Settings

try:
    settings = Settings.from_env()
    signer = Signer.from_settings(settings)  # None: signatures are not required
except ConfigurationError as exc:
    sys.exit(f"kosprice: {exc.message}")

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"


def usable_cpus() -> int:
    """Count the CPUs this process may run on: a container's cpuset, not the host's total.

    A CPU quota (docker's `cpus:`) is not an affinity and is not seen here: with one, set
    KOSPRICE_WORKERS.
    """
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # no affinity API on this platform
        return os.cpu_count() or 1


# One worker per usable CPU (KOSPRICE_WORKERS overrides): the model call is CPU-bound, so
# more workers only contend for the same CPUs and each holds its own model copies.
workers = settings.workers or max(2, usable_cpus())
# Threaded workers: a sync worker reads each request itself, so a client that connects and
# sends nothing (or headers and one byte of body) holds the whole process until `timeout`
# kills it; two such clients froze two sync workers. A gthread worker waits for clients in
# its event loop; kosprice's subclass also hands silent connections back to that loop within
# 0.5 s and bounds reading a request to 10 s (kosprice/gunicorn_worker.py). The model call is
# CPU-bound and holds the GIL, so threads add no CPU: they are there to wait on clients.
worker_class = "kosprice.gunicorn_worker.ThreadWorker"
threads = 8
keepalive = 5  # seconds an idle kept-alive connection stays open (behind nginx: its pool)
timeout = 30  # a worker whose event loop is stuck this long is killed and replaced
graceful_timeout = 30  # SIGTERM and reloads let in-flight requests finish for this long
# The heartbeat file is touched every second; on a container overlay filesystem that can
# stall a worker past `timeout`, so keep it in memory where /dev/shm exists.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# No gunicornc control socket: signals suffice, and test servers must not share one.
control_socket_disable = True
max_requests = 0  # workers live long: models load once per process

# No preload: each worker imports the app and loads the models itself after fork. Preloading
# would share model memory copy-on-write, but then a graceful reload (HUP) keeps serving the
# models loaded in the master; without it `make reload` starts workers that load the newly
# promoted versions while the old workers finish their requests. Models are small (< 10 MB).
preload_app = False

logger_class = "kosprice.gunicorn_logging.GunicornLogger"

# Requests Gunicorn refuses before the app sees them get the JSON error envelope too, and no
# response names the server software (`Server: kosprice`). Workers inherit this at fork.
install_http_answers()
accesslog = "-"
errorlog = "-"
loglevel = settings.log_level.lower()

# prometheus_client picks its multiprocess storage at import, which happens in the workers
# after this file ran; the Makefile, Dockerfile and compose file set it, this is a fallback.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(Path(settings.state_dir, "prometheus")))

# `make reload` validates models/ and then sends HUP to the master whose pid is written here.
Path(settings.state_dir).mkdir(parents=True, exist_ok=True)
pidfile = str(Path(settings.state_dir, "gunicorn.pid"))


def wipe_metrics_dir(metrics_dir: Path) -> None:
    """Remove the metric files of a previous run, which would otherwise be summed in.

    Only prometheus_client's `*.db` files go: the directory may be a mount point (a tmpfs in
    a container), and a misconfigured path must not cost anything else that lives there.
    """
    metrics_dir.mkdir(parents=True, exist_ok=True)
    for entry in metrics_dir.glob("*.db"):
        entry.unlink()


# Workers load exactly the versions the master validated last (at start, then at each HUP),
# so a worker respawned while models/ is being changed serves what its siblings serve. The
# path is the one `kosprice versions` reads (KOSPRICE_SERVING_MANIFEST when set).
SERVING_MANIFEST = settings.serving_manifest_path
os.environ["KOSPRICE_SERVING_MANIFEST"] = str(SERVING_MANIFEST)


def validate_and_pin(server) -> int:
    """Validate every model version; pin the serving ones when all pass; return the problems."""
    from kosprice.ml.registry import write_manifest
    from kosprice.ml.repository import validate

    problems, serving = validate(settings.models_dir, signer=signer)
    for problem in problems:
        server.log.error("model integrity problem", extra={"path": str(problem.path),
                                                           "reason": problem.reason})
    if problems:
        return len(problems)
    write_manifest(SERVING_MANIFEST, serving)
    for region, model in sorted(serving.items()):
        server.log.info("model validated", extra={"region": region,
                                                  "model_version": str(model.version)})
    return 0


def prepare_monitor_store(server) -> None:
    """Create the embedded store's database once, before any worker exists (no Redis I/O:
    its clients are made after the fork). Monitoring fails open: on a failure the workers
    create it themselves, one at a time, and serve predictions meanwhile."""
    from kosprice.monitoring import build_store

    try:
        build_store(settings).prepare()
    except Exception as exc:  # noqa: BLE001 - never stop serving for the monitoring store
        server.log.warning("monitor store not prepared; workers will retry",
                           extra={"error": f"{type(exc).__name__}: {exc}"})


def on_starting(server):
    """Start clean metrics, validate every model version; refuse to start on a problem."""
    wipe_metrics_dir(Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]))
    problems = validate_and_pin(server)
    if problems:
        server.log.critical("not starting: %d model integrity problem(s)", problems)
        sys.exit(1)
    prepare_monitor_store(server)


def when_ready(server):
    """The master alone rotates the log files: the workers' handlers reopen them by themselves
    (a rotating handler in each worker would rotate on its own count and lose lines)."""
    if settings.log_max_bytes:
        LogRotator(settings.log_dir, settings.log_max_bytes, settings.log_backups).start()


def on_reload(server):
    """On HUP, before new workers start: serve new versions only if all of models/ is valid."""
    problems = validate_and_pin(server)
    if problems:
        server.log.error("reload: %d model integrity problem(s); the new workers keep "
                         "serving the versions validated before", problems)


def post_worker_init(worker):
    """Runs in a worker once the app (models included) is loaded: say that it serves now.

    What is loaded by now (the models' trees, the app) lives as long as the worker: frozen,
    the garbage collector's full passes no longer walk its ~165,000 objects, which stalled
    a request now and then (a 1,000-listing batch allocates enough to trigger them).
    """
    import gc

    gc.freeze()
    worker.log.info("worker ready")


def child_exit(server, worker):
    """Runs in the master: drop the dead worker's live gauges (model info, store up)."""
    from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

    GunicornInternalPrometheusMetrics.mark_process_dead_on_child_exit(worker.pid)


def worker_exit(server, worker):
    """Runs in a worker after its last request (or a failed boot): exit now, with the same
    code, instead of tearing the interpreter down, which took seconds (freeing every loaded
    model) while the master waited: SIGTERM took 6-28 s on a loaded machine, now 2-4 s."""
    import logging

    stopping = sys.exc_info()[1]
    code = stopping.code if isinstance(stopping, SystemExit) else int(stopping is not None)
    logging.shutdown()
    os._exit(code if isinstance(code, int) else 1)
