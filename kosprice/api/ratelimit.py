"""Per-client rate limits on the prediction routes (Flask-Limiter), and trusted proxies.

KOSPRICE_RATE_LIMIT (e.g. `120/minute;2000/hour`, off when empty) limits each client on the
routes declared `access=PREDICTION`; over it: 429 in the envelope with `Retry-After`. Counts
live where the monitors live: Redis when configured (every host shares them), otherwise an
SQLite file in KOSPRICE_STATE_DIR (the workers of one host share it). A store failure lets
requests through (fail open): limits protect the service, they never take it down.

The client is the connection's address; `X-Forwarded-For` counts only with
KOSPRICE_TRUSTED_PROXIES > 0 (ProxyFix trusts that many proxies' entries), never by default,
since any client can send the header.
"""

from __future__ import annotations

import os
import sqlite3
import time

from flask import Flask, request
from flask_limiter import Limiter
from limits.storage import Storage
from werkzeug.middleware.proxy_fix import ProxyFix

from kosprice.api.openapi import PREDICTION, operation_of
from kosprice.settings import Settings


class SqliteLimitStorage(Storage):
    """Fixed-window counters in one SQLite file, shared by the workers of one host."""

    STORAGE_SCHEME = ["kosprice+sqlite"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False,
                 timeout: float = 0.1, **options) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.path = (uri or "").split("://", 1)[1]
        self.timeout = float(timeout)
        self._connection: sqlite3.Connection | None = None
        self._pid: int | None = None

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    @property
    def db(self) -> sqlite3.Connection:
        if self._connection is None or self._pid != os.getpid():  # one per worker, after fork
            self._connection = sqlite3.connect(self.path, timeout=self.timeout,
                                               isolation_level=None)
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("CREATE TABLE IF NOT EXISTS limits (key TEXT PRIMARY KEY,"
                                     " value INTEGER NOT NULL, expires REAL NOT NULL)")
            self._pid = os.getpid()
        return self._connection

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now, db = time.time(), self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute("SELECT value, expires FROM limits WHERE key = ?", (key,)).fetchone()
            value, expires = ((row[0] + amount, row[1]) if row and row[1] > now
                              else (amount, now + expiry))
            db.execute("INSERT OR REPLACE INTO limits VALUES (?, ?, ?)", (key, value, expires))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return value

    def get(self, key: str) -> int:
        row = self.db.execute("SELECT value FROM limits WHERE key = ? AND expires > ?",
                              (key, time.time())).fetchone()
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        row = self.db.execute("SELECT expires FROM limits WHERE key = ?", (key,)).fetchone()
        return row[0] if row else time.time()

    def check(self) -> bool:
        try:
            self.db.execute("SELECT 1")
            return True
        except sqlite3.Error:
            return False

    def reset(self) -> int | None:
        return self.db.execute("DELETE FROM limits").rowcount

    def clear(self, key: str) -> None:
        self.db.execute("DELETE FROM limits WHERE key = ?", (key,))


def storage_uri(settings: Settings) -> tuple[str, dict]:
    """The limits storage matching the monitoring store, and its options."""
    options: dict = {}
    if settings.uses_redis:
        options = {"socket_timeout": settings.store_timeout,
                   "socket_connect_timeout": settings.store_timeout}
        if settings.redis_password:
            options["password"] = settings.redis_password
        nodes = ",".join(f"{host}:{port}" for host, port in settings.redis_nodes)
        if settings.redis_mode == "cluster":
            return f"redis+cluster://{nodes}", options
        if settings.redis_mode == "sentinel":
            return f"redis+sentinel://{nodes}/{settings.redis_master}", options
        return settings.redis_url, options
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    return (f"kosprice+sqlite://{settings.state_dir / 'ratelimit.sqlite3'}",
            {"timeout": settings.store_timeout})


def client_address() -> str:
    return request.remote_addr or "unknown"


def init_app(app: Flask, settings: Settings) -> Limiter | None:
    if settings.trusted_proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies)
    if not settings.rate_limit:
        return None
    uri, options = storage_uri(settings)
    limiter = Limiter(client_address, app=app, default_limits=[settings.rate_limit],
                      storage_uri=uri, storage_options=options, strategy="fixed-window",
                      headers_enabled=True, swallow_errors=True,
                      key_prefix=f"{settings.store_prefix}:ratelimit")

    @limiter.request_filter
    def only_predictions() -> bool:
        declared = operation_of(app, request.endpoint)
        return declared is None or declared.access != PREDICTION or request.method == "OPTIONS"

    return limiter
