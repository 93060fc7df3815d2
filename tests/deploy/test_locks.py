"""The two lock files agree: the image's runtime pins are exactly the test machine's."""

from __future__ import annotations

from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.promql import ROOT


def pins(name: str) -> dict[str, str]:
    lines = (ROOT / name).read_text().splitlines()
    return dict(line.split("==", 1) for line in lines if line and not line.startswith("#"))


def test_runtime_pins_are_a_subset_of_the_development_pins():
    runtime, development = pins("requirements.lock"), pins("requirements-dev.lock")
    assert {"Flask", "gunicorn", "scikit-learn", "redis", "structlog"} <= set(runtime)
    assert {name: development.get(name) for name in runtime} == runtime
    assert "pytest" in development and "pytest" not in runtime


def test_the_runtime_lock_is_complete():
    """The image installs it with --no-deps: every dependency of a pin must be pinned too."""
    runtime = {canonicalize_name(name) for name in pins("requirements.lock")}
    missing = {}
    for name in [*runtime, "kosprice"]:
        for requirement in map(Requirement, metadata.requires(name) or []):
            if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
                continue  # an extra, or not for this platform/Python
            if canonicalize_name(requirement.name) not in runtime:
                missing.setdefault(name, []).append(str(requirement))
    assert not missing, f"requirements.lock lacks dependencies: {missing}"
