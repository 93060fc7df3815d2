"""Title models: the title's words as inputs, a title-less twin for listings without one,
trained, checked, served fast and exactly, and priced with the twin's own ranges."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from kosprice.features import derive
from kosprice.ml import exactness, predictor, training
from kosprice.ml.artifact import save_version
from kosprice.ml.fastpath import TitleRouted, compile_pipeline
from kosprice.ml.pricing import price_listing
from kosprice.ml.repository import ModelRepository, check_version
from kosprice.ml.title import TITLE, TitleFallback
from tests.factories import LISTING, titled_rows, write_csv


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("title")
    data = write_csv(folder / "yogyakarta.csv", titled_rows())
    result = training.train("yogyakarta", data, "random_forest_log_deep_title", folds=3,
                            repeats=1)
    result.metadata["model_version"] = "v1.0.0"
    version_dir = save_version(ModelRepository(folder / "models").version_dir(
        "yogyakarta", "v1.0.0"), result.model, result.metadata)
    problems, model = check_version(version_dir, "yogyakarta")
    assert problems == []
    return predictor.prepare(model)


def test_a_title_model_reads_the_title_and_keeps_a_twin_without_it(trained):
    metadata = trained.metadata
    assert isinstance(trained.estimator, TitleFallback)
    assert metadata["features"][-1] == TITLE and metadata["model_type"] == "RandomForestRegressor"
    # The title is worth 900,000 to 40% of rows: with it the error is much lower.
    assert metadata["metrics"]["mae"] < 0.7 * metadata["metrics_without_title"]["mae"]
    search = metadata["model_search"]["candidates"][0]
    assert search["cv_mae_mean"] < search["cv_mae_without_title_mean"]
    for key in ("intervals", "intervals_without_title"):
        assert set(metadata[key]["bounds"]) == {"0.5", "0.8", "0.9", "0.95"}
        assert set(metadata[key]["out_of_fold_coverage"]["levels"]) == {"0.5", "0.8", "0.9",
                                                                      "0.95"}
    width = {key: np.diff(metadata[key]["bounds"]["0.8"])[0]
             for key in ("intervals", "intervals_without_title")}
    assert width["intervals_without_title"] > width["intervals"]
    assert TITLE not in metadata["reference"] and TITLE not in metadata["training_ranges"]


def test_the_fast_path_routes_and_prices_exactly(trained):
    assert trained.inference.engine == "fast", trained.inference.warning
    assert trained.inference.family == "forest+target_transform+title_fallback"
    base = {**LISTING, TITLE: "Kost Apik Eksklusif Tipe A Menteng"}
    listings = [base, {**base, TITLE: "kost APIK eksklusif"}, {**base, TITLE: "  "},
                {**base, TITLE: ""}, LISTING, {**base, TITLE: "Kost Zzyzx"}]
    fast = predictor.predict(trained, listings)
    frame = predictor.model_frame(listings, trained.features)
    np.testing.assert_allclose(fast, trained.estimator.predict(frame), rtol=1e-12)
    twin = trained.estimator.without_title_.predict(frame.drop(columns=[TITLE]))
    assert fast[2] == fast[3] == fast[4] == pytest.approx(twin[2])  # blank, empty, left out
    assert fast[0] == fast[1] > fast[3]  # case does not matter; the premium word does


def test_the_check_catches_a_title_read_differently(trained):
    fast = compile_pipeline(trained.estimator, trained.features)
    assert exactness.verify(fast, trained.estimator, trained.features).exact
    # The classic slip: the words looked up without lower-casing them first.
    block = next(b for b in fast.with_title.encoder.blocks if b.kind == "words")
    index = fast.with_title.encoder.blocks.index(block)
    fast.with_title.encoder.blocks[index] = dataclasses.replace(block, analyzer=str.split)
    verdict = exactness.verify(fast, trained.estimator, trained.features)
    assert isinstance(fast, TitleRouted) and verdict.mismatches > 0


def test_a_listing_without_a_title_is_priced_with_the_twins_range(trained):
    row = derive(LISTING, trained.features)
    titled = price_listing(2_000_000, {**row, TITLE: "Kost Apik"}, trained.metadata)
    untitled = price_listing(2_000_000, {**row, TITLE: ""}, trained.metadata)
    assert [w["code"] for w in titled.warnings] == []
    assert [w["code"] for w in untitled.warnings] == ["title_missing"]
    width = {name: p.price_range["high"] - p.price_range["low"]
             for name, p in (("titled", titled), ("untitled", untitled))}
    assert width["untitled"] > width["titled"]
