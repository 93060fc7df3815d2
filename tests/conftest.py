"""Shared fixtures: models built in tmp dirs, the app, and real servers (Gunicorn, Redis)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from kosprice.app import create_app
from kosprice.settings import Settings
from tests.factories import build_models

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
def settings(models_dir, tmp_path) -> Settings:
    return Settings.from_env({}, models_dir=models_dir, log_dir=tmp_path / "logs",
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
