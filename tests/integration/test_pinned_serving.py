"""Workers serve what the master validated last, even while models/ is being changed."""

from __future__ import annotations

import os
import signal

import psutil
import pytest
import requests

from kosprice.errors import IntegrityError
from kosprice.ml.artifact import MODEL_FILE
from kosprice.ml.registry import ModelRegistry, write_manifest
from kosprice.ml.repository import load_or_fail
from tests.factories import LISTING, copy_version, edit_metadata
from tests.scrape import metric_total
from tests.servers import gunicorn, wait_until

REGION = "yogyakarta"


def test_a_manifest_pins_the_versions_that_load(models_dir, tmp_path):
    manifest = tmp_path / "serving.json"
    write_manifest(manifest, load_or_fail(models_dir))
    copy_version(models_dir, REGION, "v1.1.0")
    assert ModelRegistry.load(models_dir).get(REGION).version.minor == 1
    pinned = ModelRegistry.load(models_dir, manifest=manifest)
    assert str(pinned.get(REGION).version) == "v1.0.0"
    assert "v1.1.0" in [str(v) for v in pinned.versions_on_disk(REGION)]


def test_a_pinned_version_changed_on_disk_does_not_load(models_dir, tmp_path):
    manifest = tmp_path / "serving.json"
    write_manifest(manifest, load_or_fail(models_dir))
    edit_metadata(models_dir / REGION / "v1.0.0", model_sha256="0" * 64)
    with pytest.raises(IntegrityError, match="does not match metadata"):
        ModelRegistry.load(models_dir, manifest=manifest)
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(IntegrityError, match="unreadable serving manifest"):
        ModelRegistry.load(models_dir, manifest=tmp_path / "broken.json")


def serving_version(server) -> str:
    response = requests.post(f"{server.url}/predict/{REGION}", json=LISTING, timeout=10)
    assert response.status_code == 200
    return response.json()["model_version"]


def workers(server) -> list[int]:
    return [child.pid for child in psutil.Process(server.process.pid).children()]


@pytest.mark.gunicorn
def test_respawned_and_reloaded_workers_never_load_a_broken_models_dir(models_dir, tmp_path):
    with gunicorn(tmp_path, {"KOSPRICE_MODELS_DIR": str(models_dir)}, workers=2) as server:
        broken = copy_version(models_dir, REGION, "v1.1.0")
        (broken / MODEL_FILE).write_bytes(b"half-copied")

        victim = workers(server)[0]
        os.kill(victim, signal.SIGKILL)  # the master respawns it while models/ is broken
        wait_until(lambda: victim not in workers(server) and len(workers(server)) == 2,
                   what="the worker to be replaced")
        assert {serving_version(server) for _ in range(10)} == {"v1.0.0"}

        server.signal(signal.SIGHUP)  # a reload without `make reload`'s own check
        wait_until(lambda: "reload: 1 model integrity problem(s)" in server.output(),
                   what="the reload to be refused")
        assert {serving_version(server) for _ in range(10)} == {"v1.0.0"}
        assert server.process.poll() is None

        broken.rename(broken.with_name(".v1.1.0.removed"))
        copy_version(models_dir, REGION, "v1.1.0")
        server.signal(signal.SIGHUP)
        wait_until(lambda: serving_version(server) == "v1.1.0", timeout=30,
                   what="the valid new version to serve")

        def model_info(version: str) -> float:
            return metric_total(requests.get(f"{server.url}/metrics", timeout=10).text,
                                "kosprice_model_info", region=REGION, model_version=version)

        # child_exit drops the gauges of the workers that are gone, killed one included.
        wait_until(lambda: model_info("v1.0.0") == 0, timeout=30,
                   what="the old version's gauge to go")
        assert model_info("v1.1.0") == 1
