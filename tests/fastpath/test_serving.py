"""The fast path in service: shipped models, fallback to scikit-learn, /models/{region}."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsRegressor

from kosprice.features import REGIONS
from kosprice.ml import predictor, training
from kosprice.ml.forest import FlatForest
from kosprice.ml.registry import ModelRegistry
from kosprice.ml.repository import load_or_fail
from tests.factories import LISTING, REAL_DATA, fit_pipeline, synthetic_rows

SHIPPED = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture(scope="module")
def shipped():
    return ModelRegistry.load(SHIPPED)


def training_rows(region: str) -> list[dict]:
    """The region's published listings, cleaned as training cleans them (or synthetic)."""
    data = REAL_DATA / f"{region}.csv"
    if not data.exists():
        return synthetic_rows(300, seed=7)
    frame, _ = training.read_listings(data)
    frame, _, _ = training.clean(frame)
    return frame.to_dict("records")


@pytest.mark.parametrize("region", REGIONS)
def test_shipped_models_are_served_fast_and_exactly(shipped, region):
    model = shipped.get(region)
    assert model.inference.engine == "fast", model.inference.warning
    rows = training_rows(region)
    expected = model.estimator.predict(predictor.model_frame(rows, model.features))
    np.testing.assert_allclose(predictor.predict(model, rows), expected, rtol=1e-6, atol=0)
    one_by_one = [predictor.predict(model, [row])[0] for row in rows[:50]]
    np.testing.assert_allclose(one_by_one, expected[:50], rtol=1e-6, atol=0)


def test_describe_reports_the_engine(shipped):
    description = shipped.describe("jakarta_selatan")["inference"]
    assert description["engine"] == "fast"
    assert description["family"] == "forest+title_fallback"
    assert description["checked_rows"] > 400
    assert description["max_relative_error"] < 1e-6
    assert description["warning"] is None


def _with_estimator(model, estimator):
    return dataclasses.replace(model, estimator=estimator, inference=None)


def test_an_unsupported_model_is_served_through_sklearn_with_a_warning(log_files):
    base = load_or_fail(SHIPPED)["yogyakarta"]
    estimator, _ = fit_pipeline(KNeighborsRegressor(n_neighbors=3), synthetic_rows(60))
    model = predictor.prepare(_with_estimator(base, estimator))
    assert model.inference.engine == "sklearn"
    assert "KNeighborsRegressor" in model.inference.warning
    [warning] = log_files.events("serving through scikit-learn")
    assert warning["region"] == "yogyakarta" and "KNeighborsRegressor" in warning["reason"]
    expected = estimator.predict(predictor.model_frame([LISTING], base.features))
    assert predictor.predict(model, [LISTING]) == [float(expected[0])]


def test_a_fast_path_that_disagrees_is_not_served(monkeypatch, log_files):
    """Force the float32 slip into the tree walker: the load-time check refuses it."""
    base = load_or_fail(SHIPPED)["jakarta_utara"]
    original = FlatForest.from_sklearn_trees.__func__

    def compare_in_float64(cls, trees, scale=1.0):
        return _float64(original(cls, trees, scale))

    monkeypatch.setattr(FlatForest, "from_sklearn_trees", classmethod(compare_in_float64))
    model = predictor.prepare(_with_estimator(base, base.estimator))
    assert model.inference.engine == "sklearn"
    assert "disagrees with scikit-learn" in model.inference.warning
    assert log_files.events("serving through scikit-learn")
    expected = base.estimator.predict(predictor.model_frame([LISTING], base.features))
    assert predictor.predict(model, [LISTING]) == [float(expected[0])]


def _float64(flat: FlatForest) -> FlatForest:
    flat.dtype = np.float64
    return flat


def test_a_model_not_prepared_still_predicts_through_sklearn():
    base = load_or_fail(SHIPPED)["jakarta_pusat"]
    assert base.inference is None
    expected = base.estimator.predict(predictor.model_frame([LISTING], base.features))
    assert predictor.predict(base, [LISTING]) == [float(expected[0])]


def test_models_endpoint_shows_the_inference_path(client):
    body = client.get("/models/yogyakarta").get_json()
    assert body["inference"]["engine"] == "fast"
    assert body["inference"]["family"] == "linear"
