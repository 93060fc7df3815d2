"""WSGI entry point: `gunicorn -c deploy/gunicorn.conf.py wsgi:app` (or any WSGI server)."""

import sqlite3
import sys
import time

from kosprice import logging
from kosprice.app import create_app
from kosprice.errors import KospriceError
from kosprice.settings import Settings

RESPAWN_DELAY = 5.0
"""Seconds a worker that could not start waits before exiting to be replaced."""

settings = Settings.from_env()
logging.configure(settings.log_level, settings.log_dir)
try:
    app = create_app(settings)
except (KospriceError, OSError, sqlite3.Error) as exc:
    # Causes that can pass: models/ changed after the master validated it, a file system or
    # store hiccup. Gunicorn halts the whole server (siblings serving included) when a worker
    # fails to boot with an exception (exit code 3); exiting with 1 makes it start another.
    logging.get_logger("kosprice.boot").error(
        "worker could not start; it exits and Gunicorn starts another",
        error=f"{type(exc).__name__}: {exc}", respawn_delay_s=RESPAWN_DELAY, exc_info=True)
    time.sleep(RESPAWN_DELAY)  # a persistent cause must not make a busy restart loop
    sys.exit(1)
