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
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from kosprice.features import REGIONS
from tests.factories import LISTING, edit_metadata
from tests.lifecycle.conftest import (
    REGION,
    better_data,
    kosprice_env,
    make_reload,
)
from tests.load import SWITCH_BOUND, SteadyLoad, reload_drill, switch_over
from tests.servers import cpu_hog, free_port, gunicorn, wait_until

pytestmark = pytest.mark.gunicorn


def test_promote_and_rollback_switch_over_without_a_failed_request(
        cli, lifecycle, settings, tmp_path):
    """The quick drill (`make drills` runs 10 promote cycles): 4 kept-alive connections, a
    CPU hog on one core, a promotion and a rollback, each served by `make reload`."""
    version = cli.train(better_data(tmp_path))
    with gunicorn(tmp_path, kosprice_env(settings), workers=2) as server, cpu_hog():
        with SteadyLoad(f"{server.url}/predict/{REGION}") as load:
            wait_until(lambda: load.served("v1.0.0"), what="load to start")
            time.sleep(0.5)
            lifecycle.promote(REGION, version, approved_by="Ana", reason="lower MAE")
            # Promoted, not yet reloaded: `kosprice wait-served` says which region is behind.
            behind = cli("wait-served", "--url", server.url, "--timeout", "0.5", ok=False)
            assert behind.exit_code == 1 and "Traceback" not in behind.output
            assert f"still serves {REGION} v1.0.0 (production: {version})" in behind.output
            reloads = []
            reload = lambda: reloads.append(make_reload(settings, server)) or reloads[-1]  # noqa: E731
            promoted = switch_over(load, server, reload, "v1.0.0", version)
            lifecycle.rollback(REGION, approved_by="Budi", reason="regression")
            rolled_back = switch_over(load, server, reload, version, "v1.0.0")
        outcomes = load.snapshot()
    # `make reload` ends by confirming what every region now serves.
    for result, served in zip(reloads, (version, "v1.0.0"), strict=True):
        confirmed = result.stdout.strip().splitlines()[-1]
        assert confirmed.startswith("serving: ") and f"{REGION} {served}" in confirmed
        assert confirmed.count(" v") == len(REGIONS)

    failures = [o for o in outcomes if o.status != 200]
    print(f"\n{len(outcomes)} requests, {len(failures)} failed; promote {promoted}; "
          f"rollback {rolled_back}")
    assert failures == []
    assert len(outcomes) > 50
    for measured in (promoted, rolled_back):
        assert measured["last_old"] <= SWITCH_BOUND  # the documented bound


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


DRILL_CYCLES = 10


@pytest.mark.drill
def test_reload_drill_ten_promotions_without_a_failed_request(cli, lifecycle, settings,
                                                              tmp_path):
    """`make drills`: 10 consecutive promote + `make reload` cycles under 4 kept-alive
    connections sending steadily, with a CPU hog on one core: zero failed or reset requests.

    The first candidate is trained; later ones are copies of it under the next version
    number (training ten times would only slow the drill down)."""
    trained = []

    def next_candidate(cycle: int, serving: str) -> str:
        if cycle == 0:
            trained.append(cli.train(better_data(tmp_path)))
            return trained[0]
        version = f"v1.{cycle + 1}.0"
        target = settings.candidates_dir / REGION / version
        shutil.copytree(settings.candidates_dir / REGION / trained[0], target)
        edit_metadata(target, model_version=version)
        return version

    with gunicorn(tmp_path, kosprice_env(settings), workers=2) as server, cpu_hog():
        drill = reload_drill(server, lifecycle, lambda: make_reload(settings, server),
                             next_candidate, REGION, DRILL_CYCLES)
        output = server.output()
    print(f"\nreload drill: {DRILL_CYCLES} cycles, {drill['sent']} requests, "
          f"{len(drill['failed'])} failed; switches {drill['switches']}")
    assert drill["failed"] == []
    assert len(drill["switches"]) == DRILL_CYCLES and drill["serving"] == "v1.10.0"
    assert all(s["last_old"] <= SWITCH_BOUND for s in drill["switches"])
    assert "Worker failed to boot" not in output and "could not start" not in output


def test_wait_served_fails_in_one_line_when_nothing_answers(cli):
    url = f"http://127.0.0.1:{free_port()}"
    result = cli("wait-served", "--url", url, "--timeout", "0.5", ok=False)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip() == f"Error: {url}/ready did not answer within 0.5 s"
