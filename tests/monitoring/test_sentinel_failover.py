"""A Sentinel failover under load: real Gunicorn (2 workers), real primary, replica, sentinels.

The primary is killed while predictions flow. Not one prediction fails; the sentinels promote
the replica, and every worker records against the new primary again, exactly. The session's
setup is left with the promoted primary and no replica (enough for the contract tests).
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import requests

from tests.factories import LISTING
from tests.servers import gunicorn, wait_until

RETRY_AFTER = 0.5


class Load(threading.Thread):
    """Sends predictions one after another until stopped (bounded in count and time)."""

    def __init__(self, url: str, region: str, limit: int = 5000, seconds: float = 90) -> None:
        super().__init__(daemon=True)
        self.url, self.region, self.limit, self.seconds = url, region, limit, seconds
        self.statuses: list[int | str] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + self.seconds
        while (not self.stopping.is_set() and len(self.statuses) < self.limit
               and time.monotonic() < deadline):
            try:
                response = requests.post(f"{self.url}/predict/{self.region}", json=LISTING,
                                         timeout=30)
                self.statuses.append(response.status_code)
            except requests.RequestException as exc:
                self.statuses.append(type(exc).__name__)

    def stop(self) -> list[int | str]:
        self.stopping.set()
        self.join(60)
        return self.statuses


def lifetime_count(sentinel, prefix: str, region: str) -> int:
    """The predictions counter, read from the primary the sentinels name now."""
    raw = sentinel.current_primary().client().hget(f"{prefix}:{{{region}}}:counters",
                                                   "predictions")
    return int(raw or 0)


@pytest.mark.redis
@pytest.mark.gunicorn
def test_predictions_survive_a_failover_and_recording_resumes_on_the_new_primary(
        redis_sentinel, pristine_models, tmp_path):
    prefix = f"kosprice-test-{uuid.uuid4().hex[:12]}"
    env = {"KOSPRICE_MODELS_DIR": str(pristine_models), "KOSPRICE_REDIS_MODE": "sentinel",
           "KOSPRICE_REDIS_NODES": ",".join(f"{h}:{p}"
                                            for h, p in redis_sentinel.sentinel_addresses),
           "KOSPRICE_REDIS_MASTER": redis_sentinel.MASTER, "KOSPRICE_STORE_PREFIX": prefix,
           # A generous timeout: this test is about a stopped primary, not a slow machine.
           "KOSPRICE_STORE_TIMEOUT": "1.0", "KOSPRICE_STORE_RETRY_AFTER": str(RETRY_AFTER)}
    old = redis_sentinel.current_primary()
    with gunicorn(tmp_path, env, workers=2) as server:
        load = Load(server.url, "yogyakarta")
        load.start()
        wait_until(lambda: lifetime_count(redis_sentinel, prefix, "yogyakarta") >= 20,
                   timeout=60, what="predictions recorded on the first primary")

        stopped_at = time.monotonic()
        sent_before = len(load.statuses)
        old.kill()
        wait_until(lambda: redis_sentinel.master_address() not in (None, old.address),
                   timeout=60, interval=0.05, what="the sentinels to promote the replica")
        failover_s = time.monotonic() - stopped_at
        promoted_count = lifetime_count(redis_sentinel, prefix, "yogyakarta")
        # Recording resumes: the new primary's counter grows while the load goes on.
        wait_until(lambda: lifetime_count(redis_sentinel, prefix, "yogyakarta")
                   >= promoted_count + 20, timeout=60, what="recording on the new primary")
        statuses = load.stop()
        print(f"\nfailover: {failover_s:.2f}s from kill to promotion; "
              f"{len(statuses)} predictions sent ({len(statuses) - sent_before} after the "
              f"kill), {sum(s != 200 for s in statuses)} failed")
        assert statuses and all(status == 200 for status in statuses), \
            [s for s in statuses if s != 200][:5]

        # Once the breakers have closed, every worker records every prediction again.
        time.sleep(RETRY_AFTER * 2)
        for _ in range(20):
            response = requests.post(f"{server.url}/predict/jakarta_pusat", json=LISTING,
                                     timeout=30)
            assert response.status_code == 200
        assert lifetime_count(redis_sentinel, prefix, "jakarta_pusat") == 20
        monitor = requests.get(f"{server.url}/prediction-monitor/jakarta_pusat", timeout=30)
        assert monitor.status_code == 200 and monitor.json()["count"] == 20
