"""Startup integrity validation: one test per failure kind, artifacts built in tmp_path."""

from __future__ import annotations

import json
import pickle
import re
import shutil
from pathlib import Path

import pytest

from kosprice.errors import IntegrityError
from kosprice.features import REGIONS
from kosprice.ml.artifact import METADATA_FILE, MODEL_FILE
from kosprice.ml.registry import ModelRegistry
from kosprice.ml.repository import ModelRepository, load_or_fail, validate
from kosprice.ml.versions import Version
from tests.factories import (
    copy_version,
    edit_metadata,
    synthetic_rows,
    train_version,
    write_csv,
)

REGION = "yogyakarta"


def version_dir(models_dir: Path, version: str = "v1.0.0", region: str = REGION) -> Path:
    return models_dir / region / version


def only_problem(models_dir: Path):
    problems, _ = validate(models_dir)
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


class MarkerPickle:
    """Unpickling this creates `marker`: proof that a pickle's code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


# --- the clean case -------------------------------------------------------------------

def test_valid_models_have_no_problems_and_serve_every_region(models_dir):
    problems, serving = validate(models_dir)
    assert problems == []
    assert sorted(serving) == list(REGIONS)
    assert all(model.version == Version(1, 0, 0) for model in serving.values())
    assert serving[REGION].metadata["region"] == REGION


# --- one test per failure kind ----------------------------------------------------------

def edit(**changes):
    """Change the metadata of yogyakarta's v1.0.0."""
    return lambda models_dir: edit_metadata(version_dir(models_dir), **changes)


def add_feature(name: str):
    def change(models_dir: Path) -> None:
        features = json.loads((version_dir(models_dir) / METADATA_FILE).read_text())["features"]
        edit_metadata(version_dir(models_dir), features=[*features, name])
    return change


def write(relative: str, text: str):
    return lambda models_dir: (models_dir / relative).write_text(text)


def remove(relative: str):
    def change(models_dir: Path) -> None:
        path = models_dir / relative
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return change


def copy_into(relative: str):
    return lambda models_dir: shutil.copytree(version_dir(models_dir), models_dir / relative)


def exactly(reason: str) -> str:
    return re.escape(reason)


V1 = f"{REGION}/v1.0.0"


@pytest.mark.parametrize(("damage", "where", "reason"), [
    pytest.param(lambda m: copy_version(m, REGION, "v1.1.0", fix_metadata=False),
                 f"{REGION}/v1.1.0/{METADATA_FILE}",
                 exactly("model_version 'v1.0.0' does not match the folder 'v1.1.0'"),
                 id="model_version differs from the folder"),
    pytest.param(edit(region="jakarta_pusat"), f"{V1}/{METADATA_FILE}",
                 exactly("region 'jakarta_pusat' does not match the folder 'yogyakarta'"),
                 id="region differs from the region folder"),
    pytest.param(edit(model_type="RandomForestRegressor"), f"{V1}/{MODEL_FILE}",
                 exactly("model is a Ridge, metadata says 'RandomForestRegressor'"),
                 id="model_type differs from the estimator"),
    pytest.param(add_feature("is_kolam_renang"), f"{V1}/{METADATA_FILE}",
                 exactly("feature(s) not in the catalogue: is_kolam_renang"),
                 id="feature outside the catalogue"),
    pytest.param(edit(sklearn_version="0.24.2"), f"{V1}/{METADATA_FILE}",
                 r"trained with scikit-learn 0\.24\.2.*cross-version loading is unsupported.*",
                 id="scikit-learn version differs from the running one"),
    pytest.param(remove(f"{V1}/{MODEL_FILE}"), f"{V1}/{MODEL_FILE}", "missing",
                 id="model file missing"),
    pytest.param(remove(f"{V1}/{METADATA_FILE}"), f"{V1}/{METADATA_FILE}", "missing",
                 id="metadata file missing"),
    pytest.param(write(f"{V1}/{METADATA_FILE}", '{"region": "yogyakarta",'),
                 f"{V1}/{METADATA_FILE}", "not valid JSON.*", id="metadata not valid JSON"),
    pytest.param(write(f"{V1}/{METADATA_FILE}", '["yogyakarta"]'), f"{V1}/{METADATA_FILE}",
                 exactly("must hold a JSON object"), id="metadata not a JSON object"),
    pytest.param(edit(model_sha256=..., trained_at=...), f"{V1}/{METADATA_FILE}",
                 exactly("missing key(s): trained_at, model_sha256"),
                 id="metadata keys missing"),
    pytest.param(copy_into("bali/v1.0.0"), "bali",
                 exactly("unknown region (expected one of jakarta_pusat") + ".*",
                 id="unknown region folder"),
    pytest.param(remove(V1), REGION, exactly("no version folders"),
                 id="region with no version"),
    pytest.param(remove(REGION), REGION, exactly("no model for this region"),
                 id="region folder missing"),
    pytest.param(write(f"{REGION}/notes.txt", "trained on Tuesday"), f"{REGION}/notes.txt",
                 ".*unexpected file.*", id="a stray file among version folders"),
])
def test_each_failure_kind_is_one_problem_naming_its_path(models_dir, damage, where, reason):
    damage(models_dir)
    problem = only_problem(models_dir)
    assert problem.path == models_dir / where
    assert re.fullmatch(reason, problem.reason), problem.reason


@pytest.mark.parametrize("name", ["v1.0", "1.0.0", "v01.0.0", "v1.0.0-rc1", "latest"])
def test_invalid_version_folder_name(models_dir, name):
    copy_version(models_dir, REGION, name, fix_metadata=False)
    problem = only_problem(models_dir)
    assert problem.path == models_dir / REGION / name
    assert "not a version of the form vMAJOR.MINOR.PATCH" in problem.reason


def test_sha256_mismatch_is_refused_before_unpickling(models_dir, tmp_path):
    # Control: this pickle really does run code when it is loaded.
    control = tmp_path / "control-marker"
    pickle.loads(pickle.dumps(MarkerPickle(control)))
    assert control.exists()

    marker = tmp_path / "marker"
    (version_dir(models_dir) / MODEL_FILE).write_bytes(pickle.dumps(MarkerPickle(marker)))
    problem = only_problem(models_dir)
    assert problem.path == version_dir(models_dir) / MODEL_FILE
    assert "does not match metadata" in problem.reason
    assert "refusing to unpickle" in problem.reason
    assert not marker.exists()


def test_price_target_differs_from_the_model(models_dir, tmp_path):
    edit_metadata(version_dir(models_dir), target_transform="log")
    problem = only_problem(models_dir)
    assert problem.reason == "model's price target is raw, metadata says log"


def test_a_log_target_model_is_checked_through_its_target_transformer(models_dir, tmp_path):
    data = write_csv(tmp_path / "listings.csv", synthetic_rows(seed=2))
    folder = train_version(models_dir, REGION, data, "v2.0.0", estimator="ridge_log")
    metadata = json.loads((folder / METADATA_FILE).read_text())
    assert (metadata["model_type"], metadata["target_transform"]) == ("Ridge", "log")
    assert validate(models_dir)[0] == []
    edit_metadata(folder, model_type="GradientBoostingRegressor")
    assert only_problem(models_dir).reason == (
        "model is a Ridge, metadata says 'GradientBoostingRegressor'")


def test_features_differ_from_the_model_feature_names(models_dir):
    features = json.loads((version_dir(models_dir) / METADATA_FILE).read_text())["features"]
    swapped = [features[1], features[0], *features[2:]]
    edit_metadata(version_dir(models_dir), features=swapped)
    problem = only_problem(models_dir)
    assert problem.path == version_dir(models_dir) / MODEL_FILE
    assert f"model expects features {features}, metadata lists {swapped}" == problem.reason


@pytest.mark.parametrize("features", [[], "luas_kamar", [1, 2], [["luas_kamar"]], None])
def test_features_must_be_a_list_of_names(models_dir, features):
    edit_metadata(version_dir(models_dir), features=features)
    problem = only_problem(models_dir)
    assert problem.reason == "features must be a non-empty list of feature names"


def test_models_directory_missing(tmp_path):
    problems, serving = validate(tmp_path / "nowhere")
    assert [(p.path, p.reason) for p in problems] == [
        (tmp_path / "nowhere", "models directory does not exist")]
    assert serving == {}


# --- every problem, not only the first ---------------------------------------------------

def test_every_problem_is_reported(models_dir, tmp_path):
    yogya = version_dir(models_dir)
    edit_metadata(yogya, model_version="v9.9.9", region="jakarta_utara")
    pusat = version_dir(models_dir, region="jakarta_pusat")
    (pusat / MODEL_FILE).write_bytes(pickle.dumps(MarkerPickle(tmp_path / "marker")))
    (version_dir(models_dir, region="jakarta_selatan") / METADATA_FILE).unlink()
    utara = version_dir(models_dir, region="jakarta_utara")
    utara.rename(utara.with_name("v2"))

    problems, _ = validate(models_dir)
    found = {(p.path, p.reason.split(" ")[0]) for p in problems}
    assert found == {
        (yogya / METADATA_FILE, "model_version"),
        (yogya / METADATA_FILE, "region"),
        (pusat / MODEL_FILE, "sha256"),
        (version_dir(models_dir, region="jakarta_selatan") / METADATA_FILE, "missing"),
        (models_dir / "jakarta_utara" / "v2", "folder"),
    }
    with pytest.raises(IntegrityError) as caught:
        load_or_fail(models_dir)
    assert len(caught.value.problems) == 5
    assert all(str(p) in str(caught.value) for p in problems)


def test_an_older_broken_version_blocks_startup_too(models_dir):
    """Older versions are rollback targets: they must validate as well."""
    copy_version(models_dir, REGION, "v2.0.0")
    edit_metadata(version_dir(models_dir), sklearn_version="0.0.1")  # v1.0.0
    with pytest.raises(IntegrityError, match="v1.0.0/metadata.json: trained with scikit-learn"):
        ModelRegistry.load(models_dir)


# --- which version serves ------------------------------------------------------------------

def test_the_highest_semantic_version_serves(models_dir):
    for name in ("v1.9.0", "v1.10.0", "v1.2.0"):
        copy_version(models_dir, REGION, name)
    problems, serving = validate(models_dir)
    assert problems == []
    assert serving[REGION].version == Version(1, 10, 0)
    assert serving[REGION].metadata["model_version"] == "v1.10.0"
    repository = ModelRepository(models_dir)
    assert [str(v) for v in repository.versions(REGION)] == [
        "v1.0.0", "v1.2.0", "v1.9.0", "v1.10.0"]
    assert repository.serving_version(REGION) == Version(1, 10, 0)
    assert ModelRegistry.load(models_dir).get(REGION).version == Version(1, 10, 0)


def test_dot_prefixed_work_in_progress_folders_are_ignored(models_dir):
    half_written = models_dir / REGION / ".v2.0.0.k3j4h5"
    half_written.mkdir()
    (half_written / MODEL_FILE).write_bytes(b"half a pickle")
    (models_dir / ".tmp-promotion").mkdir()
    (models_dir / "audit.jsonl").write_text("{}\n")  # plain files at the top are fine too
    problems, serving = validate(models_dir)
    assert problems == []
    assert serving[REGION].version == Version(1, 0, 0)
    assert ModelRepository(models_dir).versions(REGION) == [Version(1, 0, 0)]
