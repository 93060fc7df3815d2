"""Train one region's model from a listings CSV.

Cleaning, in order (each step is counted in the metadata's `cleaning` record):
1. drop constant columns: a feature with one value carries no signal (`is_ac` and
   `is_internet` are always 1 in the shipped data);
2. drop rows whose price is above the 99th percentile: a handful of luxury listings
   otherwise dominate the squared-error fit;
3. clip `luas_kamar` up to the catalogue's minimum (1 m²): a size of 0 is a data-entry
   placeholder, and the API refuses anything smaller, so the model never sees it;
4. drop rows outside the feature catalogue's bounds: the API would refuse them, so the
   model should not learn from them (e.g. a 625 m² "room");
5. a missing title becomes an empty one, and a title is cut to the API's 200 characters.
Then `amenities_count` is derived and the rows are split. When the data holds rows of the
region's fixed evaluation set (kosprice.ml.evaluation), exactly those are held out, so no
candidate ever trains on the rows it is judged on. Otherwise 80/20 (seed 42) as the original
project did: stratified by price band for jakarta_pusat and jakarta_selatan, by price
quintile elsewhere. The model search (`search.py`) cross-validates candidates on the 80%
only; the chosen one is fitted on the 80% and scored once on the held-out 20%. The served
model is that fit: it is not refitted on all rows, so its stated metrics and interval
coverage are those of the very model that serves.
"""

from __future__ import annotations

import hashlib
import io
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.metrics import (
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    r2_score,
)
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from kosprice.errors import DataError
from kosprice.features import (
    CATEGORICAL_FEATURES,
    CSV_COLUMNS,
    DERIVED_FEATURES,
    FEATURES,
    INPUT_FEATURES,
    NAME_COLUMN,
    TARGET,
)
from kosprice.ml import calibration, intervals, search
from kosprice.ml.listing_ids import ROW_ID, row_ids
from kosprice.ml.predictor import model_frame
from kosprice.ml.pricing import training_ranges
from kosprice.ml.repository import final_regressor, target_transform
from kosprice.ml.title import TITLE, has_title

MIN_ROWS = 30
TEST_SIZE = 0.2
SEED = 42
PRICE_QUANTILE = 0.99
PRICE_BANDS = (0, 1_500_000, 3_500_000, 6_000_000, np.inf)
BANDED_REGIONS = ("jakarta_pusat", "jakarta_selatan")
"""The original project's split: price bands for these regions, price quintiles elsewhere."""

Progress = Callable[[str], None]


@dataclass
class TrainingResult:
    model: Pipeline
    metadata: dict[str, Any]
    holdout: pd.DataFrame = field(repr=False)
    """The held-out rows the metrics were computed on: every catalogue input and the target.

    All inputs, not only this model's: production may use a column this training dropped
    (constant here), and `compare` re-scores production on these rows."""


def read_listings(path: Path) -> tuple[pd.DataFrame, str]:
    """Read and check a listings CSV; return it with the sha256 of its bytes."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        frame = pd.read_csv(io.BytesIO(raw))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not a readable CSV: {exc}") from exc
    missing = [c for c in CSV_COLUMNS if c != NAME_COLUMN and c not in frame.columns]
    if missing:
        hint = ("; the header contains ';': kosprice reads comma-separated CSV, re-export the "
                "file with ',' as the delimiter" if ";" in "".join(map(str, frame.columns)) else "")
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}{hint}")
    problems = []
    for column in (TARGET, *INPUT_FEATURES):
        if column in CATEGORICAL_FEATURES:
            bad = ~frame[column].isin(FEATURES[column].choices)
        else:
            converted = pd.to_numeric(frame[column], errors="coerce")
            bad = converted.isna()
            if column == TARGET:  # a rent of 0 or less is a placeholder, never a price
                bad |= converted <= 0
            frame[column] = converted
        if bad.any():
            rows = ", ".join(str(i + 2) for i in frame.index[bad][:5])
            problems.append(f"column {column!r} has {int(bad.sum())} invalid value(s) "
                            f"(CSV lines {rows}{', ...' if bad.sum() > 5 else ''})")
    if problems:
        raise DataError(f"{path}: " + "; ".join(problems))
    if len(frame) < MIN_ROWS:
        raise DataError(f"{path}: {len(frame)} rows; at least {MIN_ROWS} are needed")
    return frame, hashlib.sha256(raw).hexdigest()


def clean(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str], dict[str, Any]]:
    """Apply the documented cleaning steps; return rows, kept features and a report."""
    report: dict[str, Any] = {"rows_in": len(frame)}
    constant = [c for c in INPUT_FEATURES if frame[c].nunique() <= 1]
    features = [c for c in INPUT_FEATURES if c not in constant]
    report["constant_columns_dropped"] = constant

    cap = frame[TARGET].quantile(PRICE_QUANTILE)
    kept = frame[frame[TARGET] <= cap].copy()
    report["price_cap"] = float(cap)
    report["rows_above_price_cap"] = len(frame) - len(kept)

    smallest_size = FEATURES["luas_kamar"].minimum
    report["luas_kamar_clipped"] = int((kept["luas_kamar"] < smallest_size).sum())
    kept["luas_kamar"] = kept["luas_kamar"].clip(lower=smallest_size)

    in_bounds = np.logical_and.reduce([kept[c].map(FEATURES[c].accepts) for c in features])
    report["rows_out_of_catalogue_bounds"] = int((~in_bounds).sum())
    kept = kept[in_bounds]
    # After row ids are taken: they hash the name as read.
    kept[NAME_COLUMN] = clean_titles(kept[NAME_COLUMN]) if NAME_COLUMN in kept else ""
    report["rows_out"] = len(kept)
    if len(kept) < MIN_ROWS:
        raise DataError(f"only {len(kept)} rows left after cleaning; at least {MIN_ROWS} needed")
    return kept.reset_index(drop=True), [*features, *DERIVED_FEATURES], report


def clean_titles(titles: pd.Series) -> pd.Series:
    """A missing title is an empty one; a longer one than the API accepts is cut."""
    return titles.fillna("").astype(str).str.slice(0, int(FEATURES[NAME_COLUMN].maximum))


def build_pipeline(estimator_name: str, features: list[str], seed: int = SEED) -> Pipeline:
    return search.build_pipeline(estimator_name, features, seed)


def model_inputs(frame: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """Return the model's input columns, derived features included, in `features` order."""
    return model_frame(frame.to_dict("records"), features)


def price_strata(prices: pd.Series, q: int = 5) -> pd.Series:
    """Label each row with its price quintile, for a stratified split.

    Tied prices can merge quintile edges and leave a stratum of one row, which
    `train_test_split` refuses; ranking first breaks the ties into equal-sized strata.
    """
    strata = pd.qcut(prices, q=q, labels=False, duplicates="drop")
    if strata.value_counts().min() < 2:
        strata = pd.qcut(prices.rank(method="first"), q=q, labels=False)
    return strata


def protocol_strata(region: str, prices: pd.Series) -> tuple[pd.Series, str]:
    """The original project's strata: fixed price bands (pusat, selatan) or quintiles.

    A band with fewer than two rows cannot be split; then quintiles are used, and the
    returned description says so.
    """
    if region in BANDED_REGIONS:
        bands = pd.cut(prices, PRICE_BANDS, labels=False)
        if bands.value_counts().min() >= 2:
            return bands, "price band (0 / 1.5M / 3.5M / 6M / inf)"
    return price_strata(prices), "price quintile"


def split_rows(frame: pd.DataFrame, region: str, seed: int = SEED,
               held_out: frozenset[str] = frozenset()) -> tuple[pd.Index, pd.Index, str]:
    """Training and held-out row labels of a cleaned frame, and how they were chosen.

    Rows whose ROW_ID is in `held_out` (the region's evaluation set) are the held-out rows
    when there are any; otherwise the original project's stratified split.
    """
    fixed = frame[ROW_ID].isin(held_out) if ROW_ID in frame else pd.Series(False, frame.index)
    if fixed.any():
        return frame.index[~fixed], frame.index[fixed], "the region's evaluation set"
    strata, stratify = protocol_strata(region, frame[TARGET].astype(float))
    train_index, test_index = train_test_split(
        frame.index, test_size=TEST_SIZE, random_state=seed, stratify=strata)
    return pd.Index(train_index), pd.Index(test_index), stratify


def score(y_true, y_pred) -> dict[str, float]:
    return {
        "r2": float(r2_score(y_true, y_pred)),
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "rmse": float(np.sqrt(mean_squared_error(y_true, y_pred))),
        "mape": float(mean_absolute_percentage_error(y_true, y_pred)),
    }


def price_distribution(prices: pd.Series) -> dict[str, float]:
    q = prices.quantile([0.01, 0.25, 0.5, 0.75, 0.99])
    return {"count": int(len(prices)), "min": float(prices.min()), "p01": float(q[0.01]),
            "q1": float(q[0.25]), "median": float(q[0.5]), "q3": float(q[0.75]),
            "p99": float(q[0.99]), "max": float(prices.max()),
            "mean": float(prices.mean()), "std": float(prices.std())}


def decile_bins(values: pd.Series) -> dict[str, list]:
    """Bin numbers at their deciles (ties merged): numpy.histogram's edges and counts."""
    edges = np.unique(values.quantile(np.linspace(0, 1, 11)).to_numpy())
    counts, _ = np.histogram(values, bins=edges)
    return {"edges": edges.tolist(), "counts": counts.tolist()}


def reference_distributions(inputs: pd.DataFrame) -> dict[str, Any]:
    """Bin each training feature (deciles for numbers, counts per value otherwise; free text
    is not binned).

    Stored in metadata as the reference a drift monitor compares live requests with.
    """
    reference = {}
    for column in inputs.columns:
        if FEATURES[column].kind == "text":
            continue
        values = inputs[column]
        if FEATURES[column].kind == "number" and values.nunique() > 10:
            reference[column] = decile_bins(values)
        else:
            counts = values.astype(str).value_counts().sort_index()
            reference[column] = {"values": counts.index.tolist(), "counts": counts.tolist()}
    return reference


def _jsonable_params(estimator: Any) -> dict[str, Any]:
    return {k: v for k, v in estimator.get_params().items()
            if v is None or isinstance(v, (bool, int, float, str))}


def train(region: str, data: Path, estimator_name: str | None = None, seed: int = SEED,
          progress: Progress = lambda _: None, folds: int = search.FOLDS,
          repeats: int = search.REPEATS,
          held_out: frozenset[str] = frozenset()) -> TrainingResult:
    """Search (or cross-validate the named candidate), fit, evaluate and describe a model.

    Nothing is written to disk. The held-out rows only score the chosen model; `held_out`
    names them when the data holds the region's evaluation set (kosprice.ml.listing_ids).
    """
    progress(f"reading {Path(data).name}")
    frame, data_sha256 = read_listings(data)
    frame[ROW_ID] = row_ids(frame)
    progress(f"cleaning {len(frame)} rows")
    frame, features, cleaning = clean(frame)
    progress(f"kept {cleaning['rows_out']} rows; features: {', '.join(features)}")

    titles = bool(frame[NAME_COLUMN].map(has_title).any())
    inputs = model_inputs(frame, [*features, TITLE] if titles else features)
    prices = frame[TARGET].astype(float)
    train_index, test_index, stratify = split_rows(frame, region, seed, held_out)
    y_train, y_test = prices.loc[train_index], prices.loc[test_index]

    candidates = [estimator_name] if estimator_name else [
        name for name in search.SEARCH_GRID if titles or not search.CANDIDATES[name].title]
    if not titles and search.CANDIDATES[candidates[0]].title:
        raise DataError(f"{Path(data).name} has no listing titles ({NAME_COLUMN}): "
                        f"{candidates[0]} reads them")
    progress(f"cross-validating {len(candidates)} candidate(s) on {len(train_index)} training "
             f"rows ({repeats} x {folds}-fold)")
    found = search.search(inputs.loc[train_index], y_train, features, seed, candidates, folds,
                          repeats, progress)
    features = search.features_of(found.chosen, features)
    x_train, x_test = inputs.loc[train_index, features], inputs.loc[test_index, features]
    progress(f"fitting {found.chosen} (lowest CV MAE) on {len(x_train)} rows")
    with threadpool_limits(1):
        model = build_pipeline(found.chosen, features, seed).fit(x_train, y_train)
    progress(f"scoring on {len(x_test)} held-out rows")
    predicted = model.predict(x_test)
    metrics = score(y_test, predicted)
    progress(f"calibrating the price ranges ({calibration.CALIBRATION_FOLDS}-fold)")
    oof = calibration.calibrating_predictions(found.chosen, x_train, y_train, features, seed)
    bounds = intervals.conformal_bounds(intervals.log_residuals(oof.actual, oof.predicted),
                                        n=len(x_train))

    progress("measuring the price ranges' coverage out of fold over all rows")
    measured = calibration.out_of_fold_coverage(
        inputs, prices, protocol_strata(region, prices)[0], features, found.chosen, seed,
        progress=progress)

    estimator = final_regressor(model)
    metadata = {
        "region": region,
        "model_version": None,
        "model_type": type(estimator).__name__,
        "target_transform": target_transform(model),
        "candidate": found.chosen,
        "params": _jsonable_params(estimator),
        "metrics": metrics,
        "features": features,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "sklearn_version": sklearn.__version__,
        "python_version": platform.python_version(),
        "model_sha256": None,
        "training_data": {"file": Path(data).name, "sha256": data_sha256,
                          "rows": int(cleaning["rows_in"])},
        "evaluation": {"test_size": TEST_SIZE, "seed": seed, "stratify": stratify,
                       "train_rows": len(x_train), "test_rows": len(x_test),
                       "refit_on_all_rows": False},
        "model_search": found.summary(seed),
        "intervals": {
            "method": "cross-conformal: quantiles of log(actual / predicted) over the "
                      f"chosen candidate's {calibration.CALIBRATION_FOLDS}-fold out-of-fold "
                      "predictions on the training rows",
            "calibration_rows": len(x_train), "default_level": intervals.DEFAULT_LEVEL,
            "bounds": bounds,
            "holdout_coverage": intervals.coverage(y_test, predicted, bounds),
            "out_of_fold_coverage": measured,
        },
        **(_without_title(model, x_test, y_test, oof, len(x_train), measured)
           if oof.without_title is not None else {}),
        "cleaning": cleaning,
        "price_distribution": price_distribution(y_train),
        "training_ranges": training_ranges(x_train),
        "reference": reference_distributions(x_train),
        # The served model's predictions on the rows the feature bins come from: live
        # predictions drift from these when the listings do (the drift monitor's reference
        # for the predicted price; actual training prices would differ without any drift).
        "prediction_reference": decile_bins(pd.Series(model.predict(x_train))),
    }
    # clean() reset the index, so x_test's labels are rows of frame.
    holdout = frame.loc[x_test.index, [NAME_COLUMN, *INPUT_FEATURES, TARGET]]
    return TrainingResult(model=model, metadata=metadata, holdout=holdout.reset_index(drop=True))


def _without_title(model: Any, x_test: pd.DataFrame, y_test: pd.Series, oof: search.OutOfFold,
                   calibration_rows: int, measured: dict[str, Any]) -> dict[str, Any]:
    """A title model's held-out metrics and price ranges for listings sent without a title:
    its title-less twin answers those, calibrated on its own out-of-fold residuals."""
    predicted = model.predict(x_test.assign(**{TITLE: ""}))
    bounds = intervals.conformal_bounds(intervals.log_residuals(oof.actual, oof.without_title),
                                        n=calibration_rows)
    return {"metrics_without_title": score(y_test, predicted), "intervals_without_title": {
        "method": "as `intervals`, from the title-less twin's out-of-fold predictions",
        "bounds": bounds, "holdout_coverage": intervals.coverage(y_test, predicted, bounds),
        "out_of_fold_coverage": measured["without_title"]}}
