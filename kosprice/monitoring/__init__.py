"""Monitoring without the web: the shared store, statistics, anomaly rules, Prometheus metrics.

Nothing under kosprice.monitoring imports Flask or kosprice.api.
"""

from __future__ import annotations

from kosprice.monitoring.clients import KEY_FILE, ClientHasher, host_key
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
                          drift_window=settings.drift_window,
                          recent_per_client=settings.anomaly_recent_per_client)
    from kosprice.monitoring.sqlite_store import SqliteStore

    return SqliteStore(settings.state_dir / "monitor.sqlite3", settings.window_size,
                       settings.anomaly_history, busy_timeout=settings.sqlite_write_wait,
                       drift_window=settings.drift_window,
                       recent_per_client=settings.anomaly_recent_per_client)


def build_client_hasher(settings: Settings) -> ClientHasher:
    """Keyed by KOSPRICE_CLIENT_HASH_KEY, else by the host's random key."""
    if settings.client_hash_key:
        return ClientHasher(settings.client_hash_key.encode())
    return ClientHasher(host_key(settings.state_dir / KEY_FILE))
