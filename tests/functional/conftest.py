"""Functional fixtures: apps with adjusted settings, and JSON log files in tmp_path."""

from __future__ import annotations

import dataclasses

import pytest

from kosprice.app import create_app
from tests.factories import LISTING
from tests.logs import log_files  # noqa: F401  (a shared fixture)


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

