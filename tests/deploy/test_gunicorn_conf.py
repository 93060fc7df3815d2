"""deploy/gunicorn.conf.py: workers follow the CPUs the process may use; one manifest path."""

from __future__ import annotations

import logging
import os
import runpy
import sqlite3

import pytest

from kosprice.ml.lifecycle import Lifecycle
from kosprice.settings import Settings
from tests.promql import ROOT

CONF = str(ROOT / "deploy" / "gunicorn.conf.py")


@pytest.fixture
def load_conf(monkeypatch, tmp_path):
    """Run the config file in this process, its environment changes undone afterwards."""
    for name in [k for k in os.environ if k.startswith("KOSPRICE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("KOSPRICE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "prometheus"))
    monkeypatch.setenv("KOSPRICE_SERVING_MANIFEST", "")  # set by the file; restored after

    def load(**env: str) -> dict:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return runpy.run_path(CONF)

    return load


def test_workers_follow_the_affinity_mask_not_the_host_cpu_count(load_conf, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4})
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert load_conf()["workers"] == 5


def test_at_least_two_workers_on_one_cpu(load_conf, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3})
    assert load_conf()["workers"] == 2


def test_cpu_count_when_there_is_no_affinity_api(load_conf, monkeypatch):
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert load_conf()["workers"] == 6


def test_the_setting_overrides_the_cpu_count(load_conf, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4})
    assert load_conf(KOSPRICE_WORKERS="3")["workers"] == 3


@pytest.mark.parametrize("configured", [None, "pins/serving-manifest.json"])
def test_the_master_pins_where_kosprice_versions_reads(load_conf, tmp_path, configured):
    env = {} if configured is None else {"KOSPRICE_SERVING_MANIFEST": str(tmp_path / configured)}
    conf = load_conf(**env)
    expected = tmp_path / (configured or "state/serving.json")
    assert conf["SERVING_MANIFEST"] == expected
    # The workers and the CLI read the same variable the file leaves behind.
    settings = Settings.from_env()
    assert settings.serving_manifest == expected
    assert Lifecycle.from_settings(settings).serving_manifest == expected


class Master:
    """What the hooks use of Gunicorn's arbiter: its logger."""

    def __init__(self) -> None:
        self.log = logging.getLogger("test.gunicorn.master")


def test_the_master_creates_the_embedded_store_before_forking(load_conf, tmp_path, caplog):
    conf = load_conf()
    conf["prepare_monitor_store"](Master())
    db = sqlite3.connect(tmp_path / "state" / "monitor.sqlite3")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert not caplog.records


def test_the_master_does_no_redis_io_and_a_store_problem_does_not_stop_it(load_conf, tmp_path,
                                                                            caplog):
    conf = load_conf(KOSPRICE_REDIS_URL="redis://127.0.0.1:1/0")  # nothing listens there
    conf["prepare_monitor_store"](Master())
    assert not caplog.records and not (tmp_path / "state" / "monitor.sqlite3").exists()

    (tmp_path / "state" / "monitor.sqlite3").mkdir(parents=True)  # cannot be opened
    conf = load_conf(KOSPRICE_REDIS_URL="")
    conf["prepare_monitor_store"](Master())  # logs, does not raise: monitoring fails open
    assert "monitor store not prepared" in caplog.text
