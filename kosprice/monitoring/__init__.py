"""Monitoring without the web: the shared store, statistics, anomaly rules, Prometheus metrics.

Nothing under kosprice.monitoring imports Flask or kosprice.api.
"""

from __future__ import annotations

from kosprice.monitoring.store import MonitorStore
from kosprice.settings import Settings


def build_store(settings: Settings) -> MonitorStore:
    """Redis (one server, a cluster or Sentinel) when configured, else embedded SQLite."""
    if settings.uses_redis:
        from kosprice.monitoring.redis_store import RedisEndpoint, RedisStore

        endpoint = RedisEndpoint(settings.redis_mode, settings.redis_url, settings.redis_nodes,
                                 settings.redis_master, settings.redis_password)
        return RedisStore(endpoint, settings.store_prefix, settings.window_size,
                          settings.anomaly_history, settings.store_timeout,
                          drift_window=settings.drift_window)
    from kosprice.monitoring.sqlite_store import SqliteStore

    return SqliteStore(settings.state_dir / "monitor.sqlite3", settings.window_size,
                       settings.anomaly_history, busy_timeout=settings.store_timeout,
                       drift_window=settings.drift_window)
