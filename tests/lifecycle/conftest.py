"""Lifecycle fixtures: candidates trained through the real `kosprice train` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kosprice.cli import main
from kosprice.features import REGIONS
from kosprice.ml.lifecycle import Lifecycle
from tests.factories import synthetic_rows, write_csv
from tests.servers import BIN, ROOT

REGION = "yogyakarta"
BASE = 1_000_000 + 250_000 * REGIONS.index(REGION)
"""Where the pristine production model of REGION was trained (tests/factories.py)."""


def production_like(tmp: Path, name: str = "same.csv", n: int = 120, shift: float = 0) -> Path:
    """Listings like those production was trained on; `shift` moves every price."""
    seed = REGIONS.index(REGION)
    return write_csv(tmp / name, synthetic_rows(n=n, seed=seed, base=BASE + shift))


def better_data(tmp: Path, name: str = "better.csv") -> Path:
    """Five times production's listings from the same market: a same-type candidate trained
    on them beats production on the region's evaluation set (whose rows they include, and
    training holds out)."""
    return production_like(tmp, name, n=600)


def kosprice_env(settings) -> dict[str, str]:
    return {"KOSPRICE_MODELS_DIR": str(settings.models_dir),
            "KOSPRICE_CANDIDATES_DIR": str(settings.candidates_dir),
            "KOSPRICE_ARCHIVE_DIR": str(settings.archive_dir),
            "KOSPRICE_DATA_DIR": str(settings.data_dir),
            "KOSPRICE_AUDIT_LOG": str(settings.audit_log),
            "KOSPRICE_LOG_DIR": str(settings.log_dir),
            "KOSPRICE_STATE_DIR": str(settings.state_dir)}


class Cli:
    """`kosprice` in-process (CliRunner) against the test's directories."""

    def __init__(self, settings) -> None:
        self.env = kosprice_env(settings)
        self.runner = CliRunner()

    def __call__(self, *args: str, ok: bool = True):
        result = self.runner.invoke(main, list(args), env=self.env, catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    def train(self, data: Path, *extra: str, region: str = REGION) -> str:
        """Train a candidate (production's model family unless --model); return its version.

        Naming the model keeps these tests fast and their bump predictable; the search
        itself is tested in tests/unit/test_search.py.
        """
        model = () if "--model" in extra else ("--model", "ridge")
        result = self("train", "--region", region, "--data", str(data), *model, *extra)
        return result.output.split("candidate written to ")[1].split(";")[0].rsplit("/", 1)[1]


@pytest.fixture
def cli(settings) -> Cli:
    return Cli(settings)


@pytest.fixture
def lifecycle(settings) -> Lifecycle:
    return Lifecycle.from_settings(settings)


def run_kosprice(settings, *args: str, extra_env: dict[str, str] | None = None,
                 **popen) -> subprocess.Popen | subprocess.CompletedProcess:
    """Run the installed `kosprice` console script as a real process."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("KOSPRICE_")},
           **kosprice_env(settings), **(extra_env or {})}
    command = [str(BIN / "kosprice"), *args]
    if popen:
        return subprocess.Popen(command, cwd=ROOT, env=env, **popen)
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def assert_one_line_error(result: subprocess.CompletedProcess, *expected: str) -> None:
    """A refused command: exit non-zero, one `Error:` line holding each text, no traceback."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    for text in expected:
        assert text in errors[0], errors[0]


def make_reload(settings, server=None) -> subprocess.CompletedProcess:
    """`make reload`, against this test's directories, Gunicorn pidfile and server's port."""
    env = {"PATH": os.environ["PATH"], **kosprice_env(settings)}
    if server is not None:
        env.update(HOST="127.0.0.1", PORT=str(server.port))
    return subprocess.run(["make", "-s", "-o", "install", "reload", f"VENV={sys.prefix}",
                           f"PIDFILE={settings.state_dir / 'gunicorn.pid'}"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
