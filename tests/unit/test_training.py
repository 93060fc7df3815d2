"""Training: the documented cleaning steps, the metrics and metadata, and bad CSVs."""

from __future__ import annotations

import dataclasses
import hashlib

import pandas as pd
import pytest
import sklearn

from kosprice.errors import DataError
from kosprice.features import FEATURES, REGIONS
from kosprice.ml import training
from kosprice.ml.artifact import REQUIRED_METADATA
from tests.conftest import IN_CI
from tests.factories import REAL_DATA, synthetic_rows, write_csv


@pytest.fixture
def rows() -> list[dict]:
    return synthetic_rows(n=100, seed=7)


def csv_of(tmp_path, rows, columns=None, name="listings.csv"):
    if columns is None:
        return write_csv(tmp_path / name, rows)
    return write_csv(tmp_path / name, rows, columns)


def cleaned(tmp_path, rows):
    frame, _ = training.read_listings(csv_of(tmp_path, rows))
    return training.clean(frame)


# --- cleaning, each step counted -------------------------------------------------------

def test_constant_columns_are_dropped_and_counted(tmp_path, rows):
    for row in rows:
        row["is_mesin_cuci"] = 0
    _, features, report = cleaned(tmp_path, rows)
    # is_ac and is_internet are always 1 in synthetic_rows, like the shipped data.
    assert report["constant_columns_dropped"] == ["is_ac", "is_internet", "is_mesin_cuci"]
    assert not {"is_ac", "is_internet", "is_mesin_cuci"} & set(features)
    assert features[-1] == "amenities_count"


def test_rows_above_the_99th_price_percentile_are_dropped(tmp_path, rows):
    for i, row in enumerate(rows):
        row["harga"] = 1_000_000 + 10_000 * i
    rows[42]["harga"] = 50_000_000
    frame, _, report = cleaned(tmp_path, rows)
    assert report["rows_above_price_cap"] == 1
    assert 50_000_000 not in frame["harga"].tolist()
    assert frame["harga"].max() <= report["price_cap"] < 50_000_000


def test_luas_kamar_is_clipped_to_at_least_one_square_metre(tmp_path, rows):
    rows[0]["luas_kamar"], rows[1]["luas_kamar"], rows[2]["luas_kamar"] = 0, 0.5, 1
    frame, _, report = cleaned(tmp_path, rows)
    assert report["luas_kamar_clipped"] == 2  # 1 m² itself is left alone
    assert frame["luas_kamar"].min() == FEATURES["luas_kamar"].minimum == 1
    assert report["rows_out_of_catalogue_bounds"] == 0  # clipped rows stay


def test_the_clip_reads_the_catalogue_minimum_not_a_literal(tmp_path, rows, monkeypatch):
    raised = dataclasses.replace(FEATURES["luas_kamar"], minimum=2)
    monkeypatch.setitem(FEATURES, "luas_kamar", raised)
    rows[0]["luas_kamar"] = 0
    frame, _, report = cleaned(tmp_path, rows)
    assert frame["luas_kamar"].min() == 2
    assert report["luas_kamar_clipped"] >= 1


def test_rows_outside_the_catalogue_bounds_are_dropped(tmp_path, rows):
    rows[3]["luas_kamar"] = 625          # > 100 m²
    rows[4]["jarak_ke_bca"] = 75         # > 50 km
    rows[5]["is_km_dalam"] = 2           # a flag is 0 or 1
    for row in rows[3:6]:
        row["harga"] = 1_500_000         # well under the price cap: only the bounds drop them
    frame, _, report = cleaned(tmp_path, rows)
    assert report["rows_out_of_catalogue_bounds"] == 3
    assert frame["luas_kamar"].max() <= 100 and frame["jarak_ke_bca"].max() <= 50
    assert set(frame["is_km_dalam"]) == {0, 1}


def test_the_report_accounts_for_every_row(tmp_path, rows):
    rows[3]["luas_kamar"] = 625
    rows[10]["harga"] = 90_000_000
    _, _, report = cleaned(tmp_path, rows)
    assert report["rows_in"] == 100
    assert report["rows_out"] == (report["rows_in"] - report["rows_above_price_cap"]
                                  - report["rows_out_of_catalogue_bounds"])


def test_too_few_rows_left_after_cleaning(tmp_path, rows):
    for row in rows[:80]:
        row["jarak_ke_bca"] = 99
    with pytest.raises(DataError, match="rows left after cleaning; at least 30 needed"):
        cleaned(tmp_path, rows)


# --- metrics and metadata ----------------------------------------------------------------

def test_train_reports_metrics_and_complete_metadata(tmp_path, rows):
    data = csv_of(tmp_path, rows)
    messages = []
    result = training.train("yogyakarta", data, "ridge", progress=messages.append)
    meta = result.metadata
    assert set(REQUIRED_METADATA) <= set(meta)
    assert set(meta["metrics"]) == {"r2", "mae", "rmse", "mape"}
    assert meta["metrics"]["r2"] > 0.5  # the synthetic price is learnable
    assert meta["region"] == "yogyakarta"
    assert meta["model_type"] == "Ridge" == type(result.model[-1]).__name__
    assert meta["features"] == list(result.model.feature_names_in_)
    assert meta["sklearn_version"] == sklearn.__version__
    assert "mlflow_run_id" not in meta  # no MLflow: no run to reference
    assert meta["training_data"] == {"file": "listings.csv", "rows": 100,
                                     "sha256": hashlib.sha256(data.read_bytes()).hexdigest()}
    assert meta["params"]["alpha"] == 1.0
    assert set(meta["cleaning"]) >= {"constant_columns_dropped", "rows_above_price_cap",
                                     "luas_kamar_clipped", "rows_out_of_catalogue_bounds"}
    evaluation = meta["evaluation"]
    assert evaluation["train_rows"] + evaluation["test_rows"] == meta["cleaning"]["rows_out"]
    assert len(result.holdout) == evaluation["test_rows"]
    assert messages and any("fitting ridge" in m for m in messages)


def test_training_is_reproducible_for_a_seed(tmp_path, rows):
    data = csv_of(tmp_path, rows)
    first = training.train("yogyakarta", data, "random_forest", seed=3).metadata["metrics"]
    second = training.train("yogyakarta", data, "random_forest", seed=3).metadata["metrics"]
    assert first == second


def test_tied_prices_do_not_break_the_stratified_split(tmp_path):
    # These prices merge quintile edges and leave a one-row stratum.
    prices = [1_000_000] * 5 + [1_500_000] * 15 + [2_000_000] * 11 + [2_200_000]
    strata = training.price_strata(pd.Series(prices, dtype=float))
    assert strata.value_counts().min() >= 2
    rows = synthetic_rows(n=len(prices) + 1)
    # The 9M row is the one the price cap removes, so the tied prices reach the split.
    for row, price in zip(rows, [*prices, 9_000_000], strict=True):
        row["harga"] = price
    result = training.train("yogyakarta", csv_of(tmp_path, rows), "ridge")
    assert result.metadata["evaluation"]["test_rows"] > 0


# --- bad CSVs: a DataError naming the problem ----------------------------------------------

def test_missing_columns_are_named(tmp_path, rows):
    columns = [c for c in training.CSV_COLUMNS if c not in ("luas_kamar", "tipe_kos")]
    with pytest.raises(DataError, match="missing column\\(s\\) luas_kamar, tipe_kos"):
        training.read_listings(csv_of(tmp_path, rows, columns))


def test_the_name_column_is_optional(tmp_path, rows):
    columns = [c for c in training.CSV_COLUMNS if c != "nama_kos"]
    frame, _ = training.read_listings(csv_of(tmp_path, rows, columns))
    assert len(frame) == 100


def test_non_numeric_values_name_the_column_and_the_csv_line(tmp_path, rows):
    rows[2]["luas_kamar"] = "dua belas"
    rows[7]["harga"] = "Rp 1.500.000"
    with pytest.raises(DataError) as caught:
        training.read_listings(csv_of(tmp_path, rows))
    message = caught.value.message
    assert "column 'luas_kamar' has 1 invalid value(s) (CSV lines 4)" in message
    assert "column 'harga' has 1 invalid value(s) (CSV lines 9)" in message


def test_empty_cells_are_invalid_values(tmp_path, rows):
    rows[0]["jarak_ke_bca"] = ""
    with pytest.raises(DataError, match="column 'jarak_ke_bca' has 1 invalid"):
        training.read_listings(csv_of(tmp_path, rows))


def test_many_invalid_values_are_summarised(tmp_path, rows):
    for row in rows[:8]:
        row["is_furnished"] = "ya"
    with pytest.raises(DataError, match=r"'is_furnished' has 8 invalid value\(s\) "
                                        r"\(CSV lines 2, 3, 4, 5, 6, \.\.\.\)"):
        training.read_listings(csv_of(tmp_path, rows))


@pytest.mark.parametrize("price", [0, -250_000])
def test_a_price_of_zero_or_less_is_invalid(tmp_path, rows, price):
    rows[5]["harga"] = price
    with pytest.raises(DataError, match=r"'harga' has 1 invalid value\(s\) \(CSV lines 7\)"):
        training.read_listings(csv_of(tmp_path, rows))


def test_invalid_tipe_kos_is_named(tmp_path, rows):
    rows[1]["tipe_kos"] = "pria"
    with pytest.raises(DataError, match=r"'tipe_kos' has 1 invalid value\(s\) \(CSV lines 3\)"):
        training.read_listings(csv_of(tmp_path, rows))


def test_too_few_rows(tmp_path, rows):
    with pytest.raises(DataError, match="10 rows; at least 30 are needed"):
        training.read_listings(csv_of(tmp_path, rows[:10]))


def test_a_header_only_file_has_too_few_rows(tmp_path):
    with pytest.raises(DataError, match="0 rows; at least 30"):
        training.read_listings(csv_of(tmp_path, []))


def test_an_empty_file_is_not_a_readable_csv(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(DataError, match="empty.csv is not a readable CSV"):
        training.read_listings(tmp_path / "empty.csv")


def test_a_binary_file_is_not_a_readable_csv(tmp_path):
    (tmp_path / "model.csv").write_bytes(b"\xff\xfe\x00\x80\x81garbage")
    with pytest.raises(DataError, match="model.csv is not a readable CSV"):
        training.read_listings(tmp_path / "model.csv")


@pytest.mark.parametrize("name", ["missing.csv", "."])
def test_an_unreadable_path_is_reported(tmp_path, name):
    with pytest.raises(DataError, match="cannot read"):
        training.read_listings(tmp_path / name)


# --- real data ---------------------------------------------------------------------------

@pytest.mark.parametrize("region", REGIONS)
def test_real_listings_train_a_useful_model(region):
    data = REAL_DATA / f"{region}.csv"
    if not data.is_file():
        message = f"real listings for {region} are not available (../shared/data/kos/{data.name})"
        if IN_CI:  # CI promises the listings beside the clone: their absence is a failure
            pytest.fail(message)
        pytest.skip(message)
    # One fast candidate: the full search runs in `make quality`, not in the suite.
    result = training.train(region, data, "ridge_log", repeats=1)
    assert result.metadata["metrics"]["r2"] > 0.4
    assert result.metadata["cleaning"]["rows_out"] >= 400
