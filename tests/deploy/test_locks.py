"""The two lock files agree: the image's runtime pins are exactly the test machine's."""

from __future__ import annotations

from tests.promql import ROOT


def pins(name: str) -> dict[str, str]:
    lines = (ROOT / name).read_text().splitlines()
    return dict(line.split("==", 1) for line in lines if line and not line.startswith("#"))


def test_runtime_pins_are_a_subset_of_the_development_pins():
    runtime, development = pins("requirements.lock"), pins("requirements-dev.lock")
    assert {"Flask", "gunicorn", "scikit-learn", "redis", "structlog"} <= set(runtime)
    assert {name: development.get(name) for name in runtime} == runtime
    assert "pytest" in development and "pytest" not in runtime
