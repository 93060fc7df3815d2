"""A few seconds of `make bench`: its servers, one short wrk run, the stage timings.

Nothing here asserts a speed; it checks that the benchmark runs and reads its tools right.
"""

from __future__ import annotations

import pytest

from benchmarks import apps, report, servers
from benchmarks.stages import stages
from tests.factories import LISTING, titled_rows, train_version, write_csv
from tests.servers import require_binary

WRK_OUTPUT = """Running 2s test @ http://127.0.0.1:8000/predict/yogyakarta
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.10ms    1.02ms  21.46ms   91.50%
    Req/Sec     1.91k   101.36     2.04k    80.00%
  Latency Distribution
     50%    1.92ms
     75%    2.21ms
     90%    2.73ms
     99%    5.61ms
  3800 requests in 2.00s, 0.98MB read
  Socket errors: connect 0, read 3, write 0, timeout 1
  Non-2xx or 3xx responses: 2
Requests/sec:   1899.21
Transfer/sec:    500.54KB
"""


def test_wrk_output_is_read():
    result = servers.parse_wrk(WRK_OUTPUT)
    assert result == servers.Round(1899.21, 1.92, 5.61, errors=6)
    with pytest.raises(ValueError):
        servers.parse_wrk("Running 2s test\n")


def test_framework_and_floor_servers_answer_a_wrk_round(models_dir, tmp_path):
    require_binary("wrk", "wrk")
    env = {"KOSPRICE_MODELS_DIR": str(models_dir), "KOSPRICE_WORKERS": "2"}
    started = {name: servers.Server(name, app, tmp_path, env).start()
               for name, app in (("framework", "benchmarks.apps:framework()"),
                                 ("floor", "benchmarks.apps:floor()"))}
    try:
        script = servers.wrk_script(tmp_path, LISTING)
        for server in started.values():
            server.wait_ready()
            assert server.post("/predict/yogyakarta", LISTING)["region"] == "yogyakarta"
            result = servers.run_wrk(f"{server.url}/predict/yogyakarta", script, 1)
            assert result.requests_per_s > 0 and result.errors == 0
            assert 0 < result.p50_ms <= result.p99_ms
            assert len(server.worker_rss_mib()) == 2
    finally:
        for server in started.values():
            server.stop()


def test_stage_timings_cover_the_predict_path(models_dir, redis_url, store_prefix, tmp_path):
    # One region served by a title model (two pipelines), as the shipped ones are.
    train_version(models_dir, "yogyakarta", write_csv(tmp_path / "titled.csv", titled_rows()),
                  "v1.1.0", "ridge_log_title")
    rows = stages(models_dir, redis_url, seconds=0.02, prefix=store_prefix, batch_size=20)
    assert [row["region"] for row in rows] == sorted(row["region"] for row in rows)
    for row in rows:
        assert row["engine"] == "fast"
        for _, key in report.STAGES:
            assert row[key] > 0, key
        assert row["batch_predictions_per_s"] > 0 and row["batch_post_per_s"] > 0
    assert "x sklearn" in report.stage_table(rows)


def test_the_quiet_variant_records_nothing():
    store = apps.NullStore(10, 5)
    store.record(None)
    assert store.read("yogyakarta").predictions == 0
    assert store.read_drift("yogyakarta").predictions == {}
