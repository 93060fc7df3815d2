"""The version rules as pure functions: no folders, no models (tests/lifecycle trains real ones)."""

from __future__ import annotations

import numpy as np
import pytest

from kosprice.errors import LifecycleError
from kosprice.ml.comparison import Comparison, Evaluation
from kosprice.ml.versioning import choose_version, override_reason, used_versions, version_of
from kosprice.ml.versions import Version

V = Version.parse


def comparison(verdict: str, implied_bump: str | None) -> Comparison:
    """A comparison as `compare` returns it; only its verdict and implied bump matter here."""
    scored = Evaluation("v9.9.9", "Ridge", {}, ["luas_kamar"], {"mae": 1.0}, np.zeros(3))
    return Comparison("yogyakarta", 3, np.zeros(3), scored, None, verdict, implied_bump,
                      f"the rule for {verdict}")


@pytest.mark.parametrize(("name", "version"), [
    ("v1.2.3", "v1.2.3"),
    (".v1.4.0.rollback-0f3a", "v1.4.0"),  # being moved to the archive
    (".v2.0.0.promote-77", "v2.0.0"),  # being copied into production
    (".v1.0.1.archiving", "v1.0.1"),
    ("report", None), ("v1.2", None), ("latest", None), (".pending", None),
])
def test_folder_names_stand_for_versions_work_in_progress_included(name, version):
    assert version_of(name) == (None if version is None else V(version))


def test_used_versions_ignore_names_that_are_not_versions():
    names = ["v1.0.0", ".v1.1.0.rollback-x", "v1.0.0", "plots", "v1.3.0"]
    assert used_versions(names) == {V("v1.0.0"), V("v1.1.0"), V("v1.3.0")}
    assert used_versions([]) == set()


@pytest.mark.parametrize(("verdict", "implied", "expected", "bump"), [
    ("better", "minor", "v1.3.0", "minor"),
    ("worse", "major", "v2.0.0", "major"),  # another model type is MAJOR whatever the MAE
    ("better", "major", "v2.0.0", "major"),
])
def test_the_bump_follows_the_comparison(verdict, implied, expected, bump):
    version, record = choose_version(comparison(verdict, implied), V("v1.2.5"), set())
    assert str(version) == expected
    assert record == {"bump": bump, "implied_bump": implied, "override": False, "reason": None,
                      "production_version": "v1.2.5", "verdict": verdict,
                      "rule": f"the rule for {verdict}", "evaluation_rows": 3}


def test_the_first_version_is_v1_0_0_and_skips_used_numbers_by_minor_steps():
    first = comparison("first model", None)
    assert choose_version(first, None, set())[0] == V("v1.0.0")
    assert choose_version(first, None, {V("v1.0.0"), V("v1.1.0")})[0] == V("v1.2.0")
    with pytest.raises(LifecycleError, match="nothing to bump"):
        choose_version(first, None, set(), bump="major", reason="r")


def test_used_versions_are_skipped_by_bumping_again_the_same_way():
    used = {V("v1.1.0"), V("v1.2.0"), V("v2.0.0")}
    assert choose_version(comparison("better", "minor"), V("v1.0.0"), used)[0] == V("v1.3.0")
    assert choose_version(comparison("worse", "major"), V("v1.0.0"), used)[0] == V("v3.0.0")


@pytest.mark.parametrize("verdict", ["equal", "worse", "incomparable"])
def test_no_implied_bump_is_refused_until_one_is_declared(verdict):
    with pytest.raises(LifecycleError, match="Nothing to version"):
        choose_version(comparison(verdict, None), V("v1.0.0"), set())
    version, record = choose_version(comparison(verdict, None), V("v1.0.0"), {V("v1.0.1")},
                                     bump="patch", reason="  fixed the clipping  ")
    assert version == V("v1.0.2")
    assert (record["bump"], record["override"], record["reason"]) == (
        "patch", True, "fixed the clipping")


def test_an_override_equal_to_the_rule_is_not_an_override():
    _, record = choose_version(comparison("better", "minor"), V("v1.0.0"), set(),
                               bump="minor", reason="same as the rule")
    assert record["override"] is False and record["reason"] == "same as the rule"


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_an_override_needs_a_reason(reason):
    with pytest.raises(LifecycleError, match="--bump needs --reason"):
        override_reason("major", reason)
    assert override_reason(None, reason) is None
