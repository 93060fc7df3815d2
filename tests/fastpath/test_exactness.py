"""The fast path prices exactly like the scikit-learn Pipeline, for every supported family."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import (
    ExtraTreesRegressor,
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    RandomForestRegressor,
)
from sklearn.linear_model import LinearRegression, Ridge
from threadpoolctl import threadpool_limits

from kosprice.ml import exactness
from kosprice.ml.fastpath import SMALL_BATCH, compile_pipeline
from kosprice.ml.predictor import model_frame
from tests.factories import fit_pipeline, synthetic_rows

ROWS = synthetic_rows(160, seed=3)

FAMILIES = {
    "ridge": lambda: Ridge(alpha=1.0),
    "linear": lambda: LinearRegression(),
    "random_forest": lambda: RandomForestRegressor(n_estimators=25, min_samples_leaf=2,
                                                   random_state=0),
    "extra_trees": lambda: ExtraTreesRegressor(n_estimators=25, random_state=0),
    "gradient_boosting": lambda: GradientBoostingRegressor(n_estimators=60, max_depth=3,
                                                           subsample=0.8, random_state=0),
    "gradient_boosting_absolute": lambda: GradientBoostingRegressor(
        loss="absolute_error", n_estimators=30, random_state=0),
    "hist_gradient_boosting": lambda: HistGradientBoostingRegressor(
        max_iter=20, early_stopping=False, random_state=0),
    "hist_gradient_boosting_poisson": lambda: HistGradientBoostingRegressor(
        loss="poisson", max_iter=15, early_stopping=False, random_state=0),
}


@pytest.fixture(autouse=True)
def one_openmp_thread():
    """HistGradientBoosting's OpenMP threads only contend on a loaded 2-core machine."""
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


def assert_exact(model, features, rows):
    fast = compile_pipeline(model, features)
    expected = model.predict(model_frame(rows, features))
    X = fast.encoder.encode(rows)
    for small in (True, False):
        got = np.concatenate([fast.predict_matrix(X[i:i + SMALL_BATCH], small=small)
                              for i in range(0, len(X), SMALL_BATCH)])
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=0)
    np.testing.assert_allclose(fast.predict(rows), expected, rtol=1e-6, atol=0)
    for row, value in zip(rows[:20], expected[:20], strict=True):  # the one-row request path
        assert fast.predict([row])[0] == pytest.approx(value, rel=1e-6, abs=0)
    return fast


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_is_exact_on_its_training_rows_and_the_check_rows(family):
    model, features = fit_pipeline(FAMILIES[family](), ROWS)
    fast = assert_exact(model, features, ROWS)
    verdict = exactness.verify(fast, model, features)
    assert verdict.exact, verdict
    assert verdict.rows >= exactness.RANDOM_ROWS


@pytest.mark.parametrize("numeric_step", ["minmax", "robust", "passthrough"])
@pytest.mark.parametrize("family", ["ridge", "random_forest"])
def test_other_numeric_steps(numeric_step, family):
    model, features = fit_pipeline(FAMILIES[family](), ROWS, numeric_step=numeric_step)
    assert_exact(model, features, ROWS + exactness.random_listings(200))


@pytest.mark.parametrize("target", ["log", "log1p-outer"])
@pytest.mark.parametrize("family", ["ridge", "gradient_boosting", "hist_gradient_boosting",
                                    "extra_trees"])
def test_log_targets(target, family):
    model, features = fit_pipeline(FAMILIES[family](), ROWS, target=target)
    fast = assert_exact(model, features, ROWS)
    assert fast.family.endswith("+target_transform")
    assert exactness.verify(fast, model, features).exact


def test_an_unknown_category_encodes_as_all_zeros_like_sklearn():
    rows = [r for r in ROWS if r["tipe_kos"] != "campur"]  # the encoder never sees "campur"
    model, features = fit_pipeline(FAMILIES["random_forest"](), rows)
    probe = [{**ROWS[0], "tipe_kos": "campur"}]
    assert_exact(model, features, probe)


def test_float64_comparisons_would_be_caught():
    """The check has teeth: trees compared in float64 (no float32 cast) disagree with
    scikit-learn on the threshold-adjacent check rows, and the check says so."""
    model, features = fit_pipeline(FAMILIES["random_forest"](), ROWS)
    fast = compile_pipeline(model, features)
    assert exactness.verify(fast, model, features).exact
    boundary = exactness.boundary_listings(fast)
    assert len(boundary) > 100
    fast.regressor.flat.dtype = np.float64  # the classic slip: compare the float64 input
    verdict = exactness.verify(fast, model, features)
    assert not verdict.exact
    assert verdict.max_relative_error > 1e-6
