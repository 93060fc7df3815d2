"""Compare: both models scored on the candidate's held-out rows, with a report."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest
from sklearn.metrics import mean_absolute_error

from kosprice.errors import LifecycleError
from kosprice.features import INPUT_FEATURES, NAME_COLUMN, REGIONS, TARGET
from kosprice.ml.comparison import HOLDOUT_FILE
from tests.factories import synthetic_rows, write_csv
from tests.lifecycle.conftest import BASE, REGION, better_data, production_like


def test_production_is_rescored_on_the_candidates_rows(cli, lifecycle, tmp_path):
    version = cli.train(better_data(tmp_path))
    comparison, paths = lifecycle.compare(REGION, version)

    holdout = pd.read_csv(lifecycle.candidates.version_dir(REGION, version) / HOLDOUT_FILE)
    production = lifecycle.baseline(REGION).model
    # Production's inputs built by hand: its own columns, amenities counted over its flags.
    inputs = holdout.copy()
    inputs["amenities_count"] = holdout[[f for f in production.features
                                         if f.startswith("is_")]].sum(axis=1)
    predicted = production.estimator.predict(inputs[production.features])
    assert comparison.rows == len(holdout)
    assert comparison.production.metrics["mae"] == pytest.approx(
        mean_absolute_error(holdout["harga"], predicted))
    assert comparison.candidate.metrics == pytest.approx(
        lifecycle.candidate(REGION, version)[0].metadata["metrics"])
    assert comparison.verdict == "better" and comparison.implied_bump == "minor"


def test_report_holds_plots_and_a_table(cli, lifecycle, tmp_path):
    version = cli.train(production_like(tmp_path), "--model", "random_forest")
    result = cli("compare", "--region", REGION, "--candidate", version)
    assert "verdict: " in result.output and "implied bump: major" in result.output
    report = lifecycle.candidates.version_dir(REGION, version) / "report"
    for name in ("predicted_vs_actual.png", "residuals.png"):
        png = (report / name).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert int.from_bytes(png[16:20], "big") >= 1200  # IHDR width: readable side by side
    table = (report / "comparison.md").read_text()
    assert "| model type | RandomForestRegressor | Ridge |" in table
    assert "| MAE (Rp) |" in table and "**Verdict:**" in table


def test_compare_refuses_a_tampered_candidate(cli, lifecycle, tmp_path):
    version = cli.train(better_data(tmp_path))
    pickle = lifecycle.candidates.version_dir(REGION, version) / "model.pkl"
    pickle.write_bytes(pickle.read_bytes() + b"\0")
    with pytest.raises(LifecycleError, match="sha256"):
        lifecycle.compare(REGION, version)
    result = cli("compare", "--region", REGION, "--candidate", version, ok=False)
    assert result.exit_code == 1 and "integrity checks" in result.output


def test_compare_needs_the_held_out_rows(cli, lifecycle, tmp_path):
    version = cli.train(better_data(tmp_path))
    (lifecycle.candidates.version_dir(REGION, version) / HOLDOUT_FILE).unlink()
    with pytest.raises(LifecycleError, match="holdout.csv"):
        lifecycle.compare(REGION, version)


def test_a_column_the_candidate_dropped_is_still_there_for_production(cli, lifecycle, tmp_path):
    # The candidate's data has a constant washing-machine flag: its cleaning drops the
    # column, but production uses it, so the held-out rows must keep every input column.
    rows = synthetic_rows(n=600, seed=REGIONS.index(REGION), base=BASE)
    for row in rows:
        row["is_mesin_cuci"] = 0
    version = cli.train(write_csv(tmp_path / "constant.csv", rows), "--bump", "minor",
                        "--reason", "without the washing-machine flag")
    candidate, holdout = lifecycle.candidate(REGION, version)
    assert "is_mesin_cuci" not in candidate.features
    assert "is_mesin_cuci" in lifecycle.baseline(REGION).model.features

    comparison, _ = lifecycle.compare(REGION, version)
    assert comparison.verdict in {"better", "worse"} and comparison.production is not None
    assert set(holdout.columns) == {NAME_COLUMN, *INPUT_FEATURES, TARGET}


def test_production_needing_a_column_the_rows_lack_is_incomparable(cli, lifecycle, tmp_path,
                                                                   monkeypatch):
    # Evaluation rows that lack a column production needs: production cannot be scored.
    rows = synthetic_rows(n=600, seed=REGIONS.index(REGION), base=BASE)
    for row in rows:
        row["is_mesin_cuci"] = 0
    version = cli.train(write_csv(tmp_path / "constant.csv", rows), "--bump", "minor",
                        "--reason", "without the washing-machine flag")
    fixed = lifecycle.evaluation_set(REGION)
    lacking = replace(fixed, rows=fixed.rows.drop(columns="is_mesin_cuci"))
    monkeypatch.setattr(lifecycle, "evaluation_set", lambda region, force=False: lacking)

    comparison, _ = lifecycle.compare(REGION, version)
    assert comparison.verdict == "incomparable" and comparison.production is None
    assert comparison.worse and comparison.implied_bump is None
    assert "lack is_mesin_cuci" in comparison.explanation
    with pytest.raises(LifecycleError, match="not comparable with production.*--force"):
        lifecycle.promote(REGION, version, approved_by="Ana", reason="r")
