from tests.monitoring.conftest import redis_url, store_prefix, throwaway_redis  # noqa: F401
