"""`kosprice predict`: a whole CSV priced through the fast path, rejects reported by line."""

from __future__ import annotations

import csv

import pytest
from click.testing import CliRunner

from kosprice.cli import main
from kosprice.features import derive
from kosprice.ml import predictor
from kosprice.ml.pricing import price_listing
from kosprice.ml.repository import load_or_fail
from tests.factories import synthetic_rows, titled_rows, train_version, write_csv


@pytest.fixture
def runner(models_dir, tmp_path) -> CliRunner:
    return CliRunner(env={"KOSPRICE_MODELS_DIR": str(models_dir),
                          "KOSPRICE_LOG_DIR": str(tmp_path / "logs")})


def read(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_prices_every_row_and_reports_rejects_with_line_numbers(runner, models_dir, tmp_path):
    rows = synthetic_rows(2500, seed=5)
    rows[3]["luas_kamar"] = 625
    rows[1700]["tipe_kos"] = "villa"
    rows[1800]["is_furnished"] = "yes"
    source = write_csv(tmp_path / "listings.csv", rows)
    target = tmp_path / "out" / "priced.csv"
    result = runner.invoke(main, ["predict", "--region", "yogyakarta", "--data", str(source),
                                  "--out", str(target)])
    assert result.exit_code == 0, result.output
    assert "line 5: rejected: luas_kamar: 625 is outside the bounds" in result.output
    assert "line 1702: rejected: tipe_kos: 'villa' is not one of putra, putri, campur" \
        in result.output
    assert "line 1802: rejected: is_furnished: 'yes' is not a number" in result.output
    assert "2497 of 2500 rows priced, 3 rejected" in result.output
    written = read(target)
    assert len(written) == 2500
    assert [r["nama_kos"] for r in written] == [r["nama_kos"] for r in rows]
    assert written[3]["predicted_price"] == "" and "625" in written[3]["rejected_reason"]
    model = load_or_fail(models_dir)["yogyakarta"]
    good = [i for i in range(2500) if i not in (3, 1700, 1800)]
    raw = model.estimator.predict(predictor.model_frame([rows[i] for i in good],
                                                        model.features))
    # The HTTP answer's pricing: rounded, clamped to the training prices, with its range.
    answers = [price_listing(price, derive(rows[i], model.features), model.metadata)
               for price, i in zip(raw, good, strict=True)]
    assert [int(written[i]["predicted_price"]) for i in good] == \
        [a.predicted_price for a in answers]
    assert [(int(written[i]["price_low"]), int(written[i]["price_high"])) for i in good] == \
        [(a.price_range["low"], a.price_range["high"]) for a in answers]
    assert all(int(written[i]["predicted_price"]) % 1000 == 0 for i in good)
    assert written[3]["price_low"] == "" and written[3]["warnings"] == ""


def test_never_overwrites_without_the_flag(runner, tmp_path):
    source = write_csv(tmp_path / "listings.csv", synthetic_rows(5))
    target = tmp_path / "priced.csv"
    target.write_text("precious\n")
    args = ["predict", "--region", "jakarta_utara", "--data", str(source), "--out", str(target)]
    result = runner.invoke(main, args)
    assert result.exit_code == 1 and "--overwrite" in result.output
    assert target.read_text() == "precious\n"
    assert runner.invoke(main, [*args, "--overwrite"]).exit_code == 0
    assert len(read(target)) == 5


def test_a_missing_column_stops_before_writing(runner, tmp_path):
    columns = ["nama_kos", "luas_kamar", "tipe_kos"]
    source = write_csv(tmp_path / "listings.csv", synthetic_rows(5), columns=columns)
    target = tmp_path / "priced.csv"
    result = runner.invoke(main, ["predict", "--region", "yogyakarta", "--data", str(source),
                                  "--out", str(target)])
    assert result.exit_code == 1 and "missing column(s) jarak_ke_bca" in result.output
    assert not target.exists()
    assert list(tmp_path.glob(".priced.csv.*")) == []


def test_a_title_model_reads_the_title_column_and_prices_empty_ones_by_its_twin(
        runner, models_dir, tmp_path):
    train_version(models_dir, "yogyakarta", write_csv(tmp_path / "titled.csv", titled_rows()),
                  "v1.1.0", "ridge_log_title")
    rows = titled_rows(40, seed=9)
    for row in rows[::2]:
        row["nama_kos"] = ""
    rows[5]["nama_kos"] = "x" * 201
    source = write_csv(tmp_path / "listings.csv", rows)
    result = runner.invoke(main, ["predict", "--region", "yogyakarta", "--data", str(source),
                                  "--out", str(tmp_path / "priced.csv")])
    assert result.exit_code == 0, result.output
    assert "line 7: rejected: nama_kos: longer than 200 characters" in result.output
    written = read(tmp_path / "priced.csv")
    assert [r["warnings"] for r in written[:5]] == ["title_missing", "", "title_missing", "",
                                                    "title_missing"]
    model = load_or_fail(models_dir)["yogyakarta"]
    assert [int(r["predicted_price"]) for r in written[:5]] == [
        price_listing(raw, derive(row, model.features), model.metadata).predicted_price
        for raw, row in zip(predictor.predict(model, rows[:5]), rows[:5], strict=True)]
