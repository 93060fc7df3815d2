"""A worker that cannot start never takes Gunicorn's master, and its serving siblings, down.

Gunicorn halts the whole server when a worker fails to boot with an exception (exit code 3).
A worker whose models vanished after the master validated them (a version moved away) exits
with 1 instead, after a pause, and the master starts another until one boots.
"""

from __future__ import annotations

import os
import signal

import pytest
import requests

from tests.factories import LISTING
from tests.servers import gunicorn, wait_until

REGION = "yogyakarta"


def predict(server) -> int:
    return requests.post(f"{server.url}/predict/{REGION}", json=LISTING, timeout=10).status_code


def serves(server) -> bool:
    """A prediction answers 200 (False while no worker accepts: the request waits queued)."""
    try:
        return predict(server) == 200
    except requests.Timeout:
        return False


@pytest.mark.gunicorn
def test_a_worker_that_cannot_start_does_not_halt_the_master(models_dir, tmp_path):
    with gunicorn(tmp_path, {"KOSPRICE_MODELS_DIR": str(models_dir)}, workers=2) as server:
        pinned = models_dir / REGION / "v1.0.0"
        moved = pinned.rename(tmp_path / "moved-away")  # after the master validated it

        victim, survivor = server.booted_workers()  # both loaded before models/ changed
        os.kill(victim, signal.SIGKILL)  # its replacement cannot load the pinned version
        wait_until(lambda: "exited with code" in server.output()
                   or server.process.poll() is not None, timeout=90,
                   what="the replacement worker to fail")
        assert "Worker failed to boot" not in server.output()
        assert server.process.poll() is None
        assert "worker could not start" in server.output()
        assert survivor in server.worker_pids()
        assert predict(server) == 200  # the sibling never stopped serving

        moved.rename(pinned)
        os.kill(survivor, signal.SIGKILL)  # only workers booted from now on remain
        wait_until(lambda: survivor not in server.worker_pids(), what="the survivor to go")
        wait_until(lambda: serves(server), timeout=90, what="a new worker to serve")
        assert server.process.poll() is None
        output = server.output()
    assert "Worker failed to boot" not in output
    assert '"error": "IntegrityError' in output or '"error": "FileNotFoundError' in output
