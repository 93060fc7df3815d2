"""Real Gunicorn with 2 workers: predictions over HTTP, and refusing to start on bad models."""

from __future__ import annotations

import json
import pickle
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from kosprice.ml.artifact import METADATA_FILE, MODEL_FILE
from tests.factories import LISTING, edit_metadata
from tests.servers import Gunicorn, gunicorn

pytestmark = pytest.mark.gunicorn


def json_lines(text: str) -> list[dict]:
    records = []
    for line in text.splitlines():
        if line.startswith("{"):
            records.append(json.loads(line))
    return records


def test_two_workers_serve_predictions_over_http(models_dir, tmp_path):
    with gunicorn(tmp_path, {"KOSPRICE_MODELS_DIR": str(models_dir)}, workers=2) as server:
        response = requests.post(f"{server.url}/predict/yogyakarta", json=LISTING,
                                 headers={"X-Request-ID": "over-http-1"}, timeout=10)
        assert response.status_code == 200
        body = response.json()
        assert body["region"] == "yogyakarta" and body["model_version"] == "v1.0.0"
        assert body["request_id"] == response.headers["X-Request-ID"] == "over-http-1"

        def predict(i: int) -> int:
            listing = {**LISTING, "luas_kamar": 8 + i % 20}
            return requests.post(f"{server.url}/predict/jakarta_selatan", json=listing,
                                 timeout=10).status_code

        # Concurrent clients: while one worker is busy the other has to accept.
        pids: set[int] = set()
        deadline = time.monotonic() + 60  # the second worker may still be booting
        with ThreadPoolExecutor(max_workers=8) as pool:
            while time.monotonic() < deadline:
                assert list(pool.map(predict, range(40))) == [200] * 40
                time.sleep(0.2)  # let the access lines reach the log
                records = json_lines(server.output())
                pids = {r["pid"] for r in records if r.get("event") == "access"
                        and r.get("path") == "/predict/jakarta_selatan"}
                if len(pids) == 2:
                    break
        assert len(pids) == 2, "both workers should have served predictions"

        error = requests.post(f"{server.url}/predict/yogyakarta", data="{", timeout=10,
                              headers={"Content-Type": "application/json"})
        assert error.status_code == 400
        assert error.json()["error"]["request_id"] == error.headers["X-Request-ID"]

        output = server.output()
    records = json_lines(output)
    # Every line Gunicorn and the app wrote is JSON; the canonical line per prediction is there.
    assert all(line.startswith("{") for line in output.splitlines() if line.strip())
    canonical = [r for r in records if r.get("event") == "prediction"
                 and r.get("request_id") == "over-http-1"]
    assert len(canonical) == 1
    assert canonical[0]["status"] == 200 and canonical[0]["region"] == "yogyakarta"
    assert len({r["pid"] for r in records if r.get("event") == "prediction"}) == 2
    assert (tmp_path / "logs" / "kosprice.log").stat().st_size > 0


def test_gunicorn_refuses_to_start_and_names_every_problem(models_dir, tmp_path):
    yogya = models_dir / "yogyakarta" / "v1.0.0"
    edit_metadata(yogya, region="jakarta_pusat")
    utara = models_dir / "jakarta_utara" / "v1.0.0"
    (utara / MODEL_FILE).write_bytes(pickle.dumps({"tampered": True}))

    server = Gunicorn(tmp_path, {"KOSPRICE_MODELS_DIR": str(models_dir)}).start(wait=False)
    try:
        returncode = server.wait(timeout=60)  # raises if it is still running by then
        output = server.output()
    finally:
        server.stop()
    assert returncode != 0
    problems = {r["path"]: r["reason"] for r in json_lines(output)
                if r.get("event") == "model integrity problem"}
    assert sorted(problems) == sorted([str(yogya / METADATA_FILE), str(utara / MODEL_FILE)])
    assert problems[str(yogya / METADATA_FILE)] == (
        "region 'jakarta_pusat' does not match the folder 'yogyakarta'")
    assert "refusing to unpickle" in problems[str(utara / MODEL_FILE)]
    assert "not starting: 2 model integrity problem(s)" in output
    assert "Booting worker" not in output


def test_the_master_rotates_the_log_files_and_no_prediction_line_is_lost(models_dir, tmp_path):
    env = {"KOSPRICE_MODELS_DIR": str(models_dir), "KOSPRICE_LOG_MAX_BYTES": "20000",
           "KOSPRICE_LOG_BACKUPS": "500"}
    logs = tmp_path / "logs"

    def predict(i: int) -> int:
        return requests.post(f"{server.url}/predict/yogyakarta", json=LISTING, timeout=10,
                             headers={"X-Request-ID": f"rotated-{i}"}).status_code

    sent = 0
    with gunicorn(tmp_path, env, workers=2) as server, ThreadPoolExecutor(4) as pool:
        deadline = time.monotonic() + 90
        while not (logs / "kosprice.log.3").exists() and time.monotonic() < deadline:
            assert list(pool.map(predict, range(sent, sent + 40))) == [200] * 40
            sent += 40
        assert (logs / "kosprice.log.3").exists(), "the master never rotated kosprice.log"
    ids = [r["request_id"] for path in logs.glob("kosprice.log*")
           for r in json_lines(path.read_text(encoding="utf-8")) if r.get("event") == "prediction"]
    assert sorted(ids) == sorted(f"rotated-{i}" for i in range(sent))
