"""Version folders are written atomically: complete, or not at all."""

from __future__ import annotations

import json
import pickle

import pytest
from sklearn.linear_model import Ridge

from kosprice.ml.artifact import METADATA_FILE, MODEL_FILE, save_version, sha256_file


def test_save_version_writes_the_model_and_its_checksum(tmp_path):
    target = tmp_path / "yogyakarta" / "v1.0.0"
    metadata = {"region": "yogyakarta", "model_sha256": None}
    save_version(target, Ridge(), metadata, [("holdout.csv", b"a,b\n1,2\n")])
    assert sorted(p.name for p in target.iterdir()) == ["holdout.csv", METADATA_FILE, MODEL_FILE]
    written = json.loads((target / METADATA_FILE).read_text())
    assert written["model_sha256"] == sha256_file(target / MODEL_FILE) == metadata["model_sha256"]
    assert [p.name for p in target.parent.iterdir()] == ["v1.0.0"]


def test_an_existing_version_is_never_overwritten(tmp_path):
    target = tmp_path / "v1.0.0"
    save_version(target, Ridge(), {})
    before = sha256_file(target / MODEL_FILE)
    with pytest.raises(FileExistsError):
        save_version(target, Ridge(alpha=5.0), {})
    assert sha256_file(target / MODEL_FILE) == before


def test_a_failed_write_leaves_neither_the_version_nor_a_temporary_folder(tmp_path):
    target = tmp_path / "yogyakarta" / "v1.0.0"
    with pytest.raises(pickle.PicklingError):
        save_version(target, lambda row: row, {})  # a lambda cannot be pickled
    assert list(target.parent.iterdir()) == []
