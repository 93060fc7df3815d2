"""JSON log files of the service, routed into tmp_path for a test and read back."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import structlog

from kosprice import logging as kosprice_logging


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
