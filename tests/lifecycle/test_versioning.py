"""Version bump rules, computed by `kosprice train` from production and the used versions."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from kosprice.errors import LifecycleError
from kosprice.ml import training
from kosprice.ml.artifact import read_metadata
from kosprice.ml.comparison import compare
from kosprice.ml.lifecycle import Lifecycle
from kosprice.ml.repository import validate
from tests.lifecycle.conftest import REGION, better_data, production_like, run_kosprice


def metadata(lifecycle, version):
    return read_metadata(lifecycle.candidates.version_dir(REGION, version))


def test_first_model_of_a_region_is_v1_0_0(cli, lifecycle, tmp_path):
    shutil.rmtree(lifecycle.production.region_dir(REGION))
    assert cli.train(production_like(tmp_path)) == "v1.0.0"
    assert metadata(lifecycle, "v1.0.0")["versioning"]["bump"] == "initial"
    assert lifecycle.production.versions(REGION) == []  # candidates never go into models/


def test_a_different_model_type_is_a_major_bump(cli, lifecycle, tmp_path):
    version = cli.train(production_like(tmp_path), "--model", "random_forest")
    assert version == "v2.0.0"
    versioning = metadata(lifecycle, version)["versioning"]
    assert versioning["bump"] == "major" and versioning["production_version"] == "v1.0.0"
    assert not versioning["override"]


def test_a_better_mae_on_the_same_rows_is_a_minor_bump(cli, lifecycle, tmp_path):
    # Prices moved up: production, re-scored on the candidate's rows, is biased low.
    version = cli.train(better_data(tmp_path))
    assert version == "v1.1.0"
    versioning = metadata(lifecycle, version)["versioning"]
    assert versioning["verdict"] == "better" and versioning["implied_bump"] == "minor"


def test_no_improvement_needs_a_declared_bump(cli, lifecycle, tmp_path):
    data = production_like(tmp_path)  # the very data production learnt: equal MAE
    refused = cli("train", "--region", REGION, "--data", str(data), "--model", "ridge", ok=False)
    assert refused.exit_code == 1 and "Nothing to version" in refused.output
    assert lifecycle.candidates.versions(REGION) == []

    no_reason = cli("train", "--region", REGION, "--data", str(data), "--model", "ridge",
                    "--bump", "patch", ok=False)
    assert no_reason.exit_code == 1 and "--bump needs --reason" in no_reason.output

    version = cli.train(data, "--bump", "patch", "--reason", "fixed the clipping of sizes")
    assert version == "v1.0.1"
    versioning = metadata(lifecycle, version)["versioning"]
    assert versioning == {**versioning, "bump": "patch", "implied_bump": None, "override": True,
                          "reason": "fixed the clipping of sizes"}


def test_bump_override_is_recorded_with_its_reason(cli, lifecycle, tmp_path):
    version = cli.train(better_data(tmp_path), "--bump", "major",
                        "--reason", "new listing source")
    assert version == "v2.0.0"
    versioning = metadata(lifecycle, version)["versioning"]
    assert versioning["override"] and versioning["implied_bump"] == "minor"
    assert versioning["reason"] == "new listing source"


def test_used_versions_are_never_reused(cli, lifecycle, tmp_path):
    better = better_data(tmp_path)
    assert cli.train(better) == "v1.1.0"
    assert cli.train(better) == "v1.2.0"  # v1.1.0 is a candidate already
    # A version retired to the archive (or half-moved there) is skipped as well.
    (lifecycle.archive.region_dir(REGION) / "v1.3.0").mkdir(parents=True)
    (lifecycle.production.region_dir(REGION) / ".v1.4.0.rollback-x").mkdir()
    assert cli.train(better) == "v1.5.0"


@pytest.mark.parametrize("inside", ["models", "models/staging", "archive", "archive/x/.."])
def test_train_refuses_to_write_into_models_or_the_archive(cli, settings, tmp_path, inside):
    roots = {"models": settings.models_dir, "archive": settings.archive_dir}
    top, _, rest = inside.partition("/")
    out = roots[top] / rest
    result = cli("train", "--region", REGION, "--data", str(production_like(tmp_path)),
                 "--out", str(out), ok=False)
    assert result.exit_code == 1 and f"never go into the {top} directory" in result.output
    assert validate(settings.models_dir)[0] == []


def test_train_out_elsewhere_is_an_experiment(cli, settings, tmp_path):
    out = tmp_path / "experiments"
    version = cli.train(better_data(tmp_path), "--out", str(out))
    assert (out / REGION / version / "model.pkl").is_file()
    # compare and promote look in the candidates directory only
    result = cli("compare", "--region", REGION, "--candidate", version, ok=False)
    assert result.exit_code == 1 and "no candidate" in result.output


def test_two_trainings_at_once_get_different_versions(lifecycle, settings, tmp_path):
    data = str(better_data(tmp_path))
    runs = [run_kosprice(settings, "train", "--region", REGION, "--data", data, "--model", "ridge",
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    for run in runs:
        _, stderr = run.communicate(timeout=120)
        assert run.returncode == 0, stderr
    assert [str(v) for v in lifecycle.candidates.versions(REGION)] == ["v1.1.0", "v1.2.0"]


def test_a_version_folder_that_appeared_is_a_clear_error(cli, lifecycle, tmp_path, monkeypatch):
    better = better_data(tmp_path)
    assert cli.train(better) == "v1.1.0"
    # As if something outside the lock wrote v1.1.0 after the numbers were read.
    monkeypatch.setattr(Lifecycle, "used_versions", lambda self, region, *roots: set())
    result = cli("train", "--region", REGION, "--data", str(better), "--model", "ridge", ok=False)
    assert result.exit_code == 1 and "already exists" in result.output
    assert "nothing was overwritten" in result.output and "Traceback" not in result.output


def test_production_changing_during_training_is_refused(lifecycle, tmp_path):
    result = training.train(REGION, better_data(tmp_path), "ridge")
    baseline = lifecycle.baseline(REGION)
    comparison = compare(REGION, result.model, result.metadata, result.holdout, baseline)
    shutil.copytree(lifecycle.production.version_dir(REGION, "v1.0.0"),
                    lifecycle.production.version_dir(REGION, "v1.5.0"))
    with pytest.raises(LifecycleError, match="changed while training"):
        lifecycle.save_candidate(result, comparison, baseline.version,
                                 lifecycle.candidates.root)
