"""The model search: CV on the training rows only, seeded, no candidate can go negative."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kosprice.ml import search, training
from kosprice.ml.repository import final_regressor, target_transform
from kosprice.ml.title import TITLE, TitleFallback
from tests.factories import synthetic_rows, write_csv

FEATURES = ["luas_kamar", "jarak_ke_bca", "tipe_kos", "is_km_dalam", "amenities_count"]


@pytest.fixture(scope="module")
def rows_xy():
    frame = pd.DataFrame(synthetic_rows(n=80, seed=11))
    return training.model_inputs(frame, [*FEATURES, TITLE]), frame["harga"].astype(float)


def test_every_grid_candidate_is_a_pipeline_that_cannot_predict_zero_or_less(rows_xy):
    x, y = rows_xy
    # Far outside the data: a linear model on a raw price would go negative here.
    extreme = x.iloc[:1].assign(luas_kamar=1.0, jarak_ke_bca=50.0, is_km_dalam=0,
                                amenities_count=0)
    for name in search.SEARCH_GRID:
        model = search.build_pipeline(name, FEATURES, 0)
        small = {k: 10 for k in model.get_params() if k.endswith(("n_estimators", "max_iter"))}
        columns = search.features_of(name, FEATURES)
        model = model.set_params(**small).fit(x[columns], y)  # few trees: structure under test
        parts = ([model.with_title_, model.without_title_] if isinstance(model, TitleFallback)
                 else [model])
        assert search.CANDIDATES[name].title == (len(parts) == 2) == (TITLE in columns)
        for part in parts:
            assert [step for step, _ in part.steps] == ["preprocess", "estimator"]
        regressor = type(final_regressor(model)).__name__
        assert regressor in {"Ridge", "RandomForestRegressor", "ExtraTreesRegressor",
                             "GradientBoostingRegressor", "HistGradientBoostingRegressor"}
        if regressor in {"Ridge", "GradientBoostingRegressor", "HistGradientBoostingRegressor"}:
            assert target_transform(model) == "log", name
        assert model.predict(extreme[columns])[0] > 0, name
        assert model.predict(extreme[columns].assign(**{TITLE: ""}))[0] > 0, name


def test_the_lowest_mean_cv_mae_wins_and_every_candidate_is_reported(rows_xy):
    x, y = rows_xy
    messages = []
    found = search.search(x, y, FEATURES, seed=1, candidates=["ridge", "ridge_log"],
                          folds=3, repeats=2, progress=messages.append)
    assert [s.name for s in found.scores] == ["ridge", "ridge_log"]
    assert found.chosen == min(found.scores, key=lambda s: s.mean).name
    assert all(len(s.fold_maes) == 6 for s in found.scores)
    assert len(found.out_of_fold.predicted) == len(found.out_of_fold.actual) == 2 * len(x)
    assert found.out_of_fold.without_title is None
    summary = found.summary(seed=1)
    assert summary["cv_mae_mean"] == pytest.approx(np.mean(found.best.fold_maes))
    assert summary["cv_mae_sd"] == pytest.approx(np.std(found.best.fold_maes, ddof=1))
    assert len(messages) == 2 and messages[0].startswith("[1/2] ridge: CV MAE")


def test_each_row_is_predicted_once_per_repeat_by_a_model_that_did_not_see_it(rows_xy):
    x, y = rows_xy
    _, oof = search.cross_validate("ridge", x, y, FEATURES, 0, 4, 2)
    assert sorted(oof.actual) == sorted([*y, *y])
    in_sample = search.build_pipeline("ridge", FEATURES, 0).fit(x[FEATURES], y).predict(x)
    assert np.abs(oof.predicted - oof.actual).mean() > np.abs(in_sample - y).mean()


def test_a_title_candidate_is_also_scored_without_titles(rows_xy):
    x, y = rows_xy
    score, oof = search.cross_validate("ridge_log_title", x, y, FEATURES, 0, 3, 1)
    assert len(score.fold_maes_without_title) == len(score.fold_maes) == 3
    assert len(oof.without_title) == len(oof.predicted) == len(x)
    # The same folds without titles are the title-less twin's: ridge_log on the same rows.
    _, twin = search.cross_validate("ridge_log", x, y, FEATURES, 0, 3, 1)
    np.testing.assert_allclose(oof.without_title, twin.predicted, rtol=1e-12)
    assert "cv_mae_without_title_mean" in score.summary()


def test_the_search_is_reproducible_for_a_seed(rows_xy):
    x, y = rows_xy
    grid = ["hist_gradient_boosting_log", "ridge_log"]
    first = search.search(x, y, FEATURES, 3, grid, 3, 1)
    second = search.search(x, y, FEATURES, 3, grid, 3, 1)
    assert first.summary(3)["candidates"] == [
        {**c, "seconds": c2["seconds"]} for c, c2 in zip(
            second.summary(3)["candidates"], first.summary(3)["candidates"], strict=True)]
    assert np.array_equal(first.out_of_fold.predicted, second.out_of_fold.predicted)


def test_train_never_lets_the_held_out_rows_choose(tmp_path, monkeypatch):
    data = write_csv(tmp_path / "listings.csv", synthetic_rows(n=100, seed=4))
    seen = []
    original = search.search

    def spy(x, y, *args, **kwargs):
        seen.append(set(x.index))
        return original(x, y, *args, **kwargs)

    monkeypatch.setattr(search, "search", spy)
    result = training.train("yogyakarta", data, "ridge_log", folds=3, repeats=1)
    meta = result.metadata
    assert len(seen[0]) == meta["evaluation"]["train_rows"]
    assert meta["model_search"]["chosen"] == "ridge_log" == meta["candidate"]
    assert meta["model_type"] == "Ridge" and meta["target_transform"] == "log"
    assert meta["evaluation"]["refit_on_all_rows"] is False
    coverage = meta["intervals"]["holdout_coverage"]
    assert set(coverage) == {"0.5", "0.8", "0.9", "0.95"}
    assert all(c["rows"] == meta["evaluation"]["test_rows"] for c in coverage.values())
    measured = meta["intervals"]["out_of_fold_coverage"]
    assert measured["rows"] == meta["evaluation"]["train_rows"] + meta["evaluation"]["test_rows"]
    assert set(measured["levels"]) == set(coverage)
    ranges = meta["training_ranges"]
    assert set(ranges) == set(meta["features"])
    assert ranges["tipe_kos"] == {"values": ["campur", "putra", "putri"]}


def test_pusat_and_selatan_split_by_the_original_price_bands():
    prices = pd.Series([1_000_000] * 10 + [2_000_000] * 10 + [4_000_000] * 10 + [7_000_000] * 10,
                       dtype=float)
    strata, how = training.protocol_strata("jakarta_pusat", prices)
    assert how.startswith("price band") and sorted(strata.unique()) == [0, 1, 2, 3]
    assert training.protocol_strata("yogyakarta", prices)[1] == "price quintile"
    # A band of one row cannot be split: quintiles instead, and the metadata says so.
    lonely = pd.concat([prices[prices < 7_000_000], pd.Series([7_000_000.0])],
                       ignore_index=True)
    assert training.protocol_strata("jakarta_selatan", lonely)[1] == "price quintile"
