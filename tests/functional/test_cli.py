"""The `kosprice` command through Click's CliRunner: `train` and `validate`."""

from __future__ import annotations

import json
import pickle

import pytest
from click.testing import CliRunner

from kosprice.cli import main
from kosprice.ml.artifact import METADATA_FILE, MODEL_FILE, sha256_file
from kosprice.ml.repository import validate
from tests.factories import CSV_COLUMNS, edit_metadata, synthetic_rows, write_csv


@pytest.fixture
def runner(tmp_path) -> CliRunner:
    """A runner whose settings point into tmp_path: no production models unless a test says so."""
    return CliRunner(env={
        "KOSPRICE_MODELS_DIR": str(tmp_path / "production"),
        "KOSPRICE_CANDIDATES_DIR": str(tmp_path / "candidates"),
        "KOSPRICE_ARCHIVE_DIR": str(tmp_path / "archive"),
        "KOSPRICE_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
        "KOSPRICE_LOG_DIR": str(tmp_path / "logs"),
        "KOSPRICE_STATE_DIR": str(tmp_path / "state"),
    })


@pytest.fixture
def listings_csv(tmp_path):
    return write_csv(tmp_path / "listings.csv", synthetic_rows(seed=5))


# --- kosprice train --------------------------------------------------------------------

def test_train_writes_a_valid_version_folder(runner, listings_csv, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(main, ["train", "--region", "yogyakarta", "--data", str(listings_csv),
                                  "--out", str(out), "--model", "ridge"])
    assert result.exit_code == 0, result.output
    folder = out / "yogyakarta" / "v1.0.0"
    assert {MODEL_FILE, METADATA_FILE} <= {p.name for p in folder.iterdir()}
    metadata = json.loads((folder / METADATA_FILE).read_text())
    assert metadata["model_version"] == "v1.0.0"
    assert metadata["region"] == "yogyakarta"
    assert metadata["model_sha256"] == sha256_file(folder / MODEL_FILE)
    assert "yogyakarta v1.0.0 Ridge: R²" in result.stdout
    assert "fitting ridge" in result.stderr  # progress goes to the terminal
    # What train writes passes the startup checks.
    problems, serving = validate(out, regions=("yogyakarta",))
    assert problems == [] and str(serving["yogyakarta"].version) == "v1.0.0"


def test_train_refuses_a_csv_with_missing_columns(runner, tmp_path):
    columns = [c for c in CSV_COLUMNS if c != "jarak_ke_bca"]
    data = write_csv(tmp_path / "partial.csv", synthetic_rows(), columns)
    result = runner.invoke(main, ["train", "--region", "yogyakarta", "--data", str(data),
                                  "--out", str(tmp_path / "out")])
    assert result.exit_code != 0
    assert "missing column(s) jarak_ke_bca" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out" / "yogyakarta").exists()


def test_train_refuses_non_numeric_values(runner, tmp_path):
    rows = synthetic_rows()
    rows[0]["harga"] = "mahal"
    data = write_csv(tmp_path / "bad.csv", rows)
    result = runner.invoke(main, ["train", "--region", "jakarta_pusat", "--data", str(data),
                                  "--out", str(tmp_path / "out")])
    assert result.exit_code != 0
    assert "column 'harga' has 1 invalid value(s) (CSV lines 2)" in result.output


def test_train_refuses_an_empty_file(runner, tmp_path):
    (tmp_path / "empty.csv").write_text("")
    result = runner.invoke(main, ["train", "--region", "jakarta_utara", "--data",
                                  str(tmp_path / "empty.csv"), "--out", str(tmp_path / "out")])
    assert result.exit_code != 0
    assert "is not a readable CSV" in result.output


def test_train_refuses_a_missing_file(runner, tmp_path):
    result = runner.invoke(main, ["train", "--region", "yogyakarta", "--data",
                                  str(tmp_path / "nowhere.csv"), "--out", str(tmp_path / "out")])
    assert result.exit_code != 0
    assert "nowhere.csv" in result.output and "does not exist" in result.output


def test_train_refuses_an_unknown_region(runner, listings_csv, tmp_path):
    result = runner.invoke(main, ["train", "--region", "bali", "--data", str(listings_csv),
                                  "--out", str(tmp_path / "out")])
    assert result.exit_code != 0
    assert "'bali' is not one of" in result.output


# --- kosprice validate ------------------------------------------------------------------

def test_validate_clean_models(runner, models_dir):
    result = runner.invoke(main, ["validate", "--models-dir", str(models_dir)])
    assert result.exit_code == 0, result.output
    for region in ("jakarta_pusat", "jakarta_selatan", "jakarta_utara", "yogyakarta"):
        assert f"ok   {region}: serving v1.0.0 (Ridge)" in result.stdout


def test_validate_prints_every_problem_and_exits_1(runner, models_dir, tmp_path):
    yogya = models_dir / "yogyakarta" / "v1.0.0"
    edit_metadata(yogya, region="jakarta_pusat")
    pusat = models_dir / "jakarta_pusat" / "v1.0.0"
    (pusat / MODEL_FILE).write_bytes(pickle.dumps({"not": "a model"}))
    result = runner.invoke(main, ["validate", "--models-dir", str(models_dir)])
    assert result.exit_code == 1
    assert (f"FAIL {yogya / METADATA_FILE}: region 'jakarta_pusat' does not match the folder "
            "'yogyakarta'") in result.stderr
    assert f"FAIL {pusat / MODEL_FILE}: sha256 " in result.stderr
    assert f"2 problem(s) found under {models_dir}" in result.stderr
    assert "ok   " not in result.stdout


def test_validate_reads_the_models_dir_from_the_environment(runner, models_dir):
    result = runner.invoke(main, ["validate"], env={"KOSPRICE_MODELS_DIR": str(models_dir)})
    assert result.exit_code == 0, result.output


def test_validate_reports_an_invalid_setting(runner):
    result = runner.invoke(main, ["validate"], env={"KOSPRICE_WORKERS": "many"})
    assert result.exit_code == 1
    assert "KOSPRICE_WORKERS='many'" in result.output


def test_validate_a_missing_models_directory(runner, tmp_path):
    result = runner.invoke(main, ["validate", "--models-dir", str(tmp_path / "nowhere")])
    assert result.exit_code == 1
    assert "models directory does not exist" in result.stderr
