"""Version folder names: `vMAJOR.MINOR.PATCH`, ordered as numbers."""

from __future__ import annotations

import pytest

from kosprice.ml.versions import FIRST, Version


def test_parse_and_render_round_trip():
    version = Version.parse("v12.3.45")
    assert (version.major, version.minor, version.patch) == (12, 3, 45)
    assert str(version) == "v12.3.45"


def test_versions_order_as_numbers_not_as_text():
    assert Version.parse("v1.10.0") > Version.parse("v1.9.0")
    assert Version.parse("v2.0.0") > Version.parse("v1.99.99")
    assert Version.parse("v1.0.10") > Version.parse("v1.0.9")
    names = ["v1.9.0", "v1.10.0", "v1.2.0", "v10.0.0", "v1.10.1"]
    assert [str(v) for v in sorted(map(Version.parse, names))] == [
        "v1.2.0", "v1.9.0", "v1.10.0", "v1.10.1", "v10.0.0"]


@pytest.mark.parametrize("text", [
    "", "1.0.0", "v1", "v1.0", "v1.0.0.0", "V1.0.0", "v01.0.0", "v1.00.0", "v1.0.0-rc1",
    "v1.0.0+build", " v1.0.0", "v1.0.0 ", "v1.0.0\n", "v-1.0.0", "v1.a.0", "latest",
    "v1.\u0663.0", "v1\u0663.0.0",  # non-ASCII digits
])
def test_invalid_forms_are_refused(text):
    assert not Version.is_valid(text)
    with pytest.raises(ValueError, match="vMAJOR.MINOR.PATCH"):
        Version.parse(text)


def test_non_strings_are_not_versions():
    assert not Version.is_valid(None)
    with pytest.raises(ValueError):
        Version.parse(None)


@pytest.mark.parametrize(("kind", "expected"), [
    ("major", "v2.0.0"), ("minor", "v1.4.0"), ("patch", "v1.3.8")])
def test_bump(kind, expected):
    assert str(Version.parse("v1.3.7").bump(kind)) == expected


def test_first_version():
    assert str(FIRST) == "v1.0.0"
