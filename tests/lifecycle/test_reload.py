"""Zero-downtime switch-over: steady load on real Gunicorn during promote/rollback + `make reload`.

The bound: `make reload` sends HUP; Gunicorn forks fresh workers, which import the app and
load the models, and stops the old ones gracefully (they finish their request). Requests
arriving meanwhile wait in the listen backlog. Every response after SWITCH_BOUND seconds
from the HUP carries the new version. Measured on 2 cores, 2 workers, 4 client threads: the
first new-version response 0.3-0.9 s after the HUP, the last old-version one within 0.05 s,
the slowest request under 1 s, no failure in about 2,000 requests; `make reload` itself
(validate, then HUP) takes 1.6-3.2 s.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import requests

from tests.factories import LISTING
from tests.lifecycle.conftest import REGION, kosprice_env, make_reload, production_like
from tests.servers import gunicorn, wait_until

pytestmark = pytest.mark.gunicorn

SWITCH_BOUND = 10.0
"""Seconds from the HUP until the last response from an old worker (documented bound)."""
THREADS = 4
MAX_REQUESTS = 20_000
MAX_SECONDS = 120


@dataclass(frozen=True)
class Outcome:
    sent: float
    done: float
    status: int | None
    version: str | None
    error: str | None = None


class SteadyLoad:
    """Threads posting predictions back to back until stopped (bounded in count and time)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.outcomes: list[Outcome] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(THREADS)]

    def _run(self) -> None:
        deadline = time.monotonic() + MAX_SECONDS
        while not self._stop.is_set() and time.monotonic() < deadline:
            sent = time.monotonic()
            try:
                response = requests.post(self.url, json=LISTING, timeout=30)
                outcome = Outcome(sent, time.monotonic(), response.status_code,
                                  response.json().get("model_version"))
            except (requests.RequestException, ValueError) as exc:
                outcome = Outcome(sent, time.monotonic(), None, None, repr(exc))
            with self._lock:
                self.outcomes.append(outcome)
                if len(self.outcomes) >= MAX_REQUESTS:
                    self._stop.set()

    def __enter__(self) -> SteadyLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def snapshot(self) -> list[Outcome]:
        with self._lock:
            return list(self.outcomes)

    def served(self, version: str) -> bool:
        return any(o.version == version for o in self.snapshot())


def switch_over(load: SteadyLoad, settings, old: str, new: str) -> dict[str, float]:
    """Reload, keep the load on until the new version serves, and measure the switch."""
    started = time.monotonic()
    result = make_reload(settings)
    hup = time.monotonic()
    assert result.returncode == 0, result.stderr
    wait_until(lambda: load.served(new), timeout=60, what=f"{new} to serve")
    time.sleep(1.5)  # keep the load on after the switch, to catch any stray old worker
    after = [o for o in load.snapshot() if o.done >= hup]
    last_old = max((o.done for o in after if o.version == old), default=hup)
    first_new = min(o.done for o in after if o.version == new)
    newest = [o.version for o in after if o.sent > last_old]
    assert set(newest) == {new}
    return {"make_reload": round(hup - started, 2), "last_old": round(last_old - hup, 2),
            "first_new": round(first_new - hup, 2),
            "slowest": round(max(o.done - o.sent for o in after), 2)}


def test_promote_and_rollback_switch_over_without_a_failed_request(
        cli, lifecycle, settings, tmp_path):
    version = cli.train(production_like(tmp_path, shift=600_000))
    with gunicorn(tmp_path, kosprice_env(settings), workers=2) as server:
        with SteadyLoad(f"{server.url}/predict/{REGION}") as load:
            wait_until(lambda: load.served("v1.0.0"), what="load to start")
            time.sleep(0.5)
            lifecycle.promote(REGION, version, approved_by="Ana", reason="lower MAE")
            promoted = switch_over(load, settings, "v1.0.0", version)
            lifecycle.rollback(REGION, approved_by="Budi", reason="regression")
            rolled_back = switch_over(load, settings, version, "v1.0.0")
        outcomes = load.snapshot()

    failures = [o for o in outcomes if o.status != 200]
    print(f"\n{len(outcomes)} requests, {len(failures)} failed; promote {promoted}; "
          f"rollback {rolled_back}")
    assert failures == []
    assert len(outcomes) > 50
    for measured in (promoted, rolled_back):
        assert measured["last_old"] <= SWITCH_BOUND and measured["first_new"] <= SWITCH_BOUND


def booted_workers(server) -> set[int]:
    """Pids of workers that have served a request (so have loaded the models)."""
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: requests.get(server.url + "/health", timeout=10), range(8)))
    return {json.loads(line)["pid"] for line in server.output().splitlines()
            if '"gunicorn.access"' in line}


def test_reload_refuses_invalid_models_and_keeps_serving(settings, tmp_path):
    with gunicorn(tmp_path, kosprice_env(settings), workers=2) as server:
        # Break models/ only once both workers are up: a worker booting now would fail.
        wait_until(lambda: len(booted_workers(server)) >= 2, what="both workers to boot")
        broken = settings.models_dir / REGION / "v1.1.0"
        broken.mkdir()
        (broken / "model.pkl").write_bytes(b"not a pickle")
        result = make_reload(settings)
        assert result.returncode != 0 and "not reloading" in result.stderr
        assert "FAIL" in result.stderr
        time.sleep(1)
        assert server.process.poll() is None
        response = requests.post(f"{server.url}/predict/{REGION}", json=LISTING, timeout=10)
        assert response.status_code == 200 and response.json()["model_version"] == "v1.0.0"
