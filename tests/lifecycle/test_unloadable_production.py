"""Production that no longer loads (e.g. after a scikit-learn upgrade) can still be replaced:
train with a declared bump, compare says "incomparable", promote needs --force."""

from __future__ import annotations

import pytest

from kosprice.errors import LifecycleError
from kosprice.ml.artifact import read_metadata
from tests.factories import edit_metadata
from tests.lifecycle.conftest import REGION, better_data


@pytest.fixture
def upgraded(settings):
    """Production's only version was trained with a scikit-learn that is no longer installed."""
    edit_metadata(settings.models_dir / REGION / "v1.0.0", sklearn_version="0.0.1")


def test_training_needs_a_declared_bump_from_the_production_version(upgraded, cli, lifecycle,
                                                                    tmp_path):
    data = better_data(tmp_path)
    refused = cli("train", "--region", REGION, "--data", str(data), "--model", "ridge", ok=False)
    assert refused.exit_code == 1
    assert "v1.0.0 cannot be loaded" in refused.output and "scikit-learn" in refused.output
    assert "--bump" in refused.output and "Traceback" not in refused.output
    assert lifecycle.candidates.versions(REGION) == []

    version = cli.train(data, "--bump", "major", "--reason", "scikit-learn upgrade")
    assert version == "v2.0.0"
    versioning = read_metadata(lifecycle.candidates.version_dir(REGION, version))["versioning"]
    assert versioning["verdict"] == "incomparable" and versioning["implied_bump"] is None
    assert versioning["production_version"] == "v1.0.0" and versioning["override"]


def test_compare_is_incomparable_and_promote_needs_force(upgraded, cli, lifecycle, tmp_path):
    version = cli.train(better_data(tmp_path), "--bump", "major",
                        "--reason", "scikit-learn upgrade")
    comparison, paths = lifecycle.compare(REGION, version)
    assert comparison.verdict == "incomparable" and comparison.production is None
    assert comparison.worse and "cannot be loaded" in comparison.explanation
    assert all(path.is_file() for path in paths)
    shown = cli("compare", "--region", REGION, "--candidate", version).output
    assert "verdict: incomparable; implied bump: none" in shown

    with pytest.raises(LifecycleError, match="not comparable with production.*--force"):
        lifecycle.promote(REGION, version, approved_by="Ana", reason="new scikit-learn")
    record = lifecycle.promote(REGION, version, approved_by="Ana", force=True,
                               reason="new scikit-learn; v1.0.0 no longer loads").record
    assert record["forced"] and record["verdict"] == "incomparable"
    assert (record["from_version"], record["to_version"]) == ("v1.0.0", "v2.0.0")
    assert record["metrics"]["from"] is None
    assert str(lifecycle.production.serving_version(REGION)) == "v2.0.0"
