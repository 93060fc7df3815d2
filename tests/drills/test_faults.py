"""Fault drills under load (`make drills`): real Gunicorn, real Redis, steady clients on loopback.

Each drill keeps CONNECTIONS clients posting predictions while it breaks something, then
counts what the clients saw. Every drill prints its figures (requests sent, failed,
recovered) for the record.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
import requests

from tests.factories import LISTING
from tests.load import CONNECTIONS, SteadyLoad
from tests.scrape import metric_total
from tests.servers import RedisServer, cpu_hog, gunicorn, wait_until

pytestmark = [pytest.mark.drill, pytest.mark.gunicorn]
REGION = "yogyakarta"


def predict_url(server) -> str:
    return f"{server.url}/predict/{REGION}"


def report(name: str, **figures) -> None:
    print(f"\ndrill {name}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))


def settle(load: SteadyLoad, at_least: int = 20) -> None:
    wait_until(lambda: len(load.snapshot()) >= at_least, timeout=60, what="steady load")


def test_redis_stopped_mid_load_fails_no_prediction_and_recording_resumes(models_dir,
                                                                          tmp_path):
    redis = RedisServer(tmp_path).start()
    env = {"KOSPRICE_MODELS_DIR": str(models_dir), "KOSPRICE_REDIS_URL": redis.url,
           "KOSPRICE_STORE_RETRY_AFTER": "1"}
    try:
        with gunicorn(tmp_path, env) as server, cpu_hog(), SteadyLoad(predict_url(server)) as load:
            settle(load)
            redis.stop()
            stopped = len(load.snapshot())
            time.sleep(5)
            during = len(load.snapshot()) - stopped
            redis.start()  # the same port, empty (it keeps nothing on disk)

            def recorded() -> int:
                answer = requests.get(f"{server.url}/prediction-monitor/{REGION}", timeout=10)
                return answer.json()["count"] if answer.status_code == 200 else 0

            resumed = wait_until(lambda: recorded() >= 20 and recorded(), timeout=60,
                                 what="recording to resume after the restart")
        outcomes = load.snapshot()
    finally:
        redis.stop()
    failed = [o for o in outcomes if o.status != 200]
    report("redis-stopped", sent=len(outcomes), during_outage=during, failed=len(failed),
           recorded_after_restart=resumed)
    assert failed == [] and during > 0


def test_a_worker_killed_mid_load_is_respawned_and_counters_never_go_back(models_dir,
                                                                           tmp_path):
    env = {"KOSPRICE_MODELS_DIR": str(models_dir)}
    totals: list[float] = []
    stop = threading.Event()

    def scrape(server) -> None:
        while not stop.is_set():
            try:
                text = requests.get(f"{server.url}/metrics", timeout=10).text
                totals.append(metric_total(text, "flask_http_request_total", method="POST"))
            except requests.RequestException:
                pass
            time.sleep(0.2)

    with gunicorn(tmp_path, env) as server, cpu_hog(), SteadyLoad(predict_url(server)) as load:
        settle(load)
        scraper = threading.Thread(target=scrape, args=(server,), daemon=True)
        scraper.start()
        wait_until(lambda: len(totals) >= 3, what="a few scrapes")
        victim = server.booted_workers()[0]
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: victim not in server.worker_pids()
                   and len(server.booted_workers()) == 2, timeout=60, what="the respawn")
        respawned_in = round(time.monotonic() - killed_at, 2)
        before = len(load.snapshot())
        wait_until(lambda: len(load.snapshot()) >= before + 50, timeout=60,
                   what="load after the respawn")
        stop.set()
        scraper.join(15)
        outcomes = load.snapshot()
    failed = [o for o in outcomes if o.status != 200]
    report("worker-sigkill", sent=len(outcomes), failed=len(failed), respawned_in_s=respawned_in,
           scrapes=len(totals))
    # Only requests the killed worker held can fail: each client has at most one in flight.
    assert len(failed) <= CONNECTIONS
    assert all(o.sent <= killed_at + 1 for o in failed)
    assert totals == sorted(totals), "a Prometheus counter went backwards"


def test_sigterm_lets_in_flight_requests_finish_without_a_5xx(models_dir, tmp_path):
    env = {"KOSPRICE_MODELS_DIR": str(models_dir)}
    with gunicorn(tmp_path, env) as server, cpu_hog(), SteadyLoad(predict_url(server)) as load:
        settle(load)
        server.signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        code = server.wait(timeout=45)
        took = round(time.monotonic() - stopped_at, 2)
        time.sleep(0.5)
        outcomes = load.snapshot()
        answered = [r for r in server.records() if r.get("event") == "prediction"]
    ok = [o for o in outcomes if o.status == 200]
    errors = [o for o in outcomes if o.status is not None and o.status >= 500]
    refused = [o for o in outcomes if o.status is None]
    report("master-sigterm", sent=len(outcomes), answered=len(ok), server_errors=len(errors),
           not_accepted_after_stop=len(refused), exit_s=took)
    assert code == 0 and took <= 30
    assert errors == []
    # Every request the server handled reached its client whole: none was cut off.
    assert len(ok) == len([r for r in answered if r.get("status") == 200])
    assert all(o.sent >= stopped_at - 1 for o in refused)


def test_a_corrupt_version_appearing_after_start_keeps_serving_and_is_reported_at_reload(
        models_dir, tmp_path):
    with gunicorn(tmp_path, {"KOSPRICE_MODELS_DIR": str(models_dir)}) as server, cpu_hog(), \
            SteadyLoad(predict_url(server)) as load:
        settle(load)
        corrupt = models_dir / REGION / "v1.1.0"
        corrupt.mkdir()
        (corrupt / "model.pkl").write_bytes(b"\x80\x04 not a pickle")
        (corrupt / "metadata.json").write_text("{}")
        served = len(load.snapshot())
        wait_until(lambda: len(load.snapshot()) >= served + 20, what="load with the corrupt "
                   "folder on disk")
        server.signal(signal.SIGHUP)
        wait_until(lambda: "reload: " in server.output() and "integrity problem"
                   in server.output(), timeout=60, what="the refused reload")
        reloaded = len(load.snapshot())
        wait_until(lambda: len(load.snapshot()) >= reloaded + 50, timeout=60,
                   what="load after the reload")
        outcomes = load.snapshot()
        answer = requests.post(predict_url(server), json=LISTING, timeout=10).json()
        output = server.output()
    failed = [o for o in outcomes if o.status != 200]
    report("corrupt-version", sent=len(outcomes), failed=len(failed),
           versions=sorted({o.version for o in outcomes}))
    assert failed == []
    assert {o.version for o in outcomes} == {"v1.0.0"} and answer["model_version"] == "v1.0.0"
    assert f"{corrupt}" in output
