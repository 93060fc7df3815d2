"""A PROMETHEUS_MULTIPROC_DIR exported in the shell does not leak into the test suite."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.promql import ROOT

PROBE = "tests/deploy/test_docker.py::test_the_app_serves_no_files"  # builds an app, predicts


def test_make_test_and_e2e_drop_the_variable():
    recipe = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True,
                            timeout=60).stdout
    runs = [line for line in recipe.splitlines() if "bin/pytest" in line]
    assert len(runs) == 2, recipe  # the suite, then `make e2e`
    for line in runs:
        assert line.startswith("env -u PROMETHEUS_MULTIPROC_DIR "), line


@pytest.mark.parametrize("exists", [False, True], ids=["missing-dir", "existing-dir"])
def test_the_suite_ignores_an_exported_multiprocess_dir(tmp_path, exists):
    metrics_dir = tmp_path / "prometheus"
    if exists:
        metrics_dir.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", PROBE], cwd=ROOT,
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
        capture_output=True, text=True, timeout=600)  # a whole pytest, on a loaded machine
    assert result.returncode == 0, result.stdout + result.stderr
    assert not exists or not any(metrics_dir.iterdir()), "metric files were written"
