"""Functional fixtures: apps with adjusted settings, and JSON log files in tmp_path."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import pytest
import structlog

from kosprice import logging as kosprice_logging
from kosprice.app import create_app
from tests.factories import LISTING


@pytest.fixture
def listing() -> dict:
    """A fresh copy of a listing every region's model accepts."""
    return dict(LISTING)


@pytest.fixture
def make_app(settings):
    """Build an app from the test settings with some fields replaced."""

    def make(**changes):
        return create_app(dataclasses.replace(settings, **changes))

    return make


class LogFiles:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def text(self, name: str = "kosprice.log") -> str:
        path = self.directory / name
        return path.read_text(encoding="utf-8") if path.exists() else ""

    def records(self, name: str = "kosprice.log") -> list[dict]:
        return [json.loads(line) for line in self.text(name).splitlines()]

    def events(self, event: str, name: str = "kosprice.log") -> list[dict]:
        return [r for r in self.records(name) if r.get("event") == event]


@pytest.fixture
def log_files(tmp_path):
    """Route kosprice's logs to JSON files under tmp_path, as the service does, then undo it."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    kosprice_logging.configure("INFO", tmp_path / "json-logs")
    yield LogFiles(tmp_path / "json-logs")
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in saved_handlers:
        root.addHandler(handler)
    root.setLevel(saved_level)
    structlog.reset_defaults()
