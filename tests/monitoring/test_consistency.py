"""Every Gunicorn worker reports the same numbers: real Gunicorn, 3 workers, real stores."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from kosprice.features import REGIONS
from tests.factories import LISTING
from tests.scrape import metric_total
from tests.servers import gunicorn, wait_until

N_PER_REGION = 15
N = N_PER_REGION * len(REGIONS)
READS = 2  # per worker


@pytest.fixture(params=[pytest.param("redis", marks=pytest.mark.redis), "sqlite"])
def store_env(request) -> dict[str, str]:
    if request.param == "redis":
        return {"KOSPRICE_REDIS_URL": request.getfixturevalue("redis_url"),
                "KOSPRICE_STORE_PREFIX": request.getfixturevalue("store_prefix"),
                # Counted exactly, so no slow-machine misses of the 0.1 s default: fail-open
                # has its own tests.
                "KOSPRICE_STORE_TIMEOUT": "2.0"}
    return {}


@pytest.mark.gunicorn
def test_all_workers_report_exactly_n(models_dir, tmp_path, store_env):
    env = {"KOSPRICE_MODELS_DIR": str(models_dir), **store_env}
    with gunicorn(tmp_path, env, workers=3) as server:
        # Every worker reports a reachable store from its start, not after its first write.
        assert metric_total(requests.get(f"{server.url}/metrics").text,
                            "kosprice_monitor_store_up") == 1

        def predict(i: int) -> requests.Response:
            region = REGIONS[i % len(REGIONS)]
            return requests.post(f"{server.url}/predict/{region}", json=LISTING, timeout=30)

        with ThreadPoolExecutor(max_workers=8) as pool:
            responses = list(pool.map(predict, range(N)))
        assert [r.status_code for r in responses] == [200] * N

        # Every worker answers the reads, forced: the others are paused while it reads.
        for pid in server.booted_workers():
            with server.only(pid):
                for _ in range(READS):
                    assert_reports_exactly_n(server.url)
            wait_until(lambda pid=pid: pid in server.served_by("GET"), timeout=10,  # flushed
                       what=f"worker {pid}'s access lines")


def assert_reports_exactly_n(url: str) -> None:
    """Fresh connections (no session): each read is accepted by whichever worker is free."""
    for region in REGIONS:
        monitor = requests.get(f"{url}/prediction-monitor/{region}", timeout=10).json()
        assert monitor["count"] == N_PER_REGION
        assert monitor["window"]["count"] == N_PER_REGION
        anomalies = requests.get(f"{url}/anomaly-monitor/{region}", timeout=10).json()
        assert anomalies["predictions"] == N_PER_REGION
    latency = requests.get(f"{url}/latency-monitor", timeout=10).json()
    assert sum(r["requests"] for r in latency["regions"].values()) == N
    text = requests.get(f"{url}/metrics", timeout=10).text
    assert metric_total(text, "kosprice_predictions_total") == N
    assert metric_total(text, "flask_http_request_duration_seconds_count",
                        path="/predict/<region>", status="200") == N
    assert metric_total(text, "kosprice_prediction_price_rupiah_count") == N
    assert metric_total(text, "kosprice_model_info") == len(REGIONS)  # max over workers
