"""Shared fixtures: models built in tmp dirs, the app, and real servers (Gunicorn, Redis)."""

from __future__ import annotations

import os

# prometheus_client chooses multiprocess storage when it is first imported (by the imports
# below), and the app's exporter follows the same variable. Tests build their apps with a
# fresh registry, so a PROMETHEUS_MULTIPROC_DIR exported in the caller's shell must not
# reach them; tests/servers.py gives every Gunicorn it starts its own directory.
os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)

import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from kosprice.app import create_app  # noqa: E402
from kosprice.settings import Settings  # noqa: E402
from tests.factories import LISTINGS, build_models  # noqa: E402
from tests.redis_topologies import redis_cluster, redis_sentinel  # noqa: E402, F401 (fixtures)

IN_CI = os.environ.get("CI") == "true"


@pytest.fixture(scope="session")
def pristine_models(tmp_path_factory) -> Path:
    """Four tiny validated models, built once per session; copy before changing them."""
    tmp = tmp_path_factory.mktemp("pristine")
    return build_models(tmp / "models", tmp)


@pytest.fixture
def models_dir(pristine_models, tmp_path) -> Path:
    """A private, writable copy of the session's models."""
    return Path(shutil.copytree(pristine_models, tmp_path / "models"))


@pytest.fixture
def data_dir(pristine_models, tmp_path) -> Path:
    """A private, writable copy of the listings the session's evaluation sets refer to."""
    return Path(shutil.copytree(pristine_models.parent / LISTINGS, tmp_path / LISTINGS))


@pytest.fixture
def settings(models_dir, data_dir, tmp_path) -> Settings:
    return Settings.from_env({}, models_dir=models_dir, data_dir=data_dir,
                             log_dir=tmp_path / "logs",
                             state_dir=tmp_path / "state",
                             candidates_dir=tmp_path / "candidates",
                             archive_dir=tmp_path / "archive",
                             audit_log=models_dir / "audit.jsonl")


@pytest.fixture
def app(settings):
    return create_app(settings)


@pytest.fixture
def client(app):
    return app.test_client()
