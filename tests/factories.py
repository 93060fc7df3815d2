"""Test data and artifacts made on the fly: synthetic listings, tiny trained model trees."""

from __future__ import annotations

import csv
import json
import random
import shutil
from pathlib import Path

from kosprice.features import AMENITY_FLAGS, CSV_COLUMNS, REGIONS
from kosprice.ml import training
from kosprice.ml.artifact import save_version
from kosprice.ml.repository import ModelRepository

REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "kos"
LISTINGS = "listings"
"""The synthetic listings directory beside the models build_models writes."""

LISTING = {
    "luas_kamar": 12.0, "jarak_ke_bca": 1.5, "tipe_kos": "putri", "is_ac": 1,
    "is_km_dalam": 1, "is_water_heater": 0, "is_furnished": 1, "is_internet": 1,
    "is_listrik_free": 0, "is_parkir_mobil": 0, "is_mesin_cuci": 1,
}
"""A valid listing for every region's model."""


def synthetic_rows(n: int = 120, seed: int = 0, base: float = 1_500_000) -> list[dict]:
    """Listings of the real CSVs' schema with a learnable, noisy price."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        row = {"nama_kos": f"Kost Sintetis {i}", "luas_kamar": round(rng.uniform(4, 40), 1),
               "jarak_ke_bca": round(rng.uniform(0.1, 8), 3),
               "tipe_kos": rng.choice(["putra", "putri", "campur"]), "is_ac": 1, "is_internet": 1}
        for flag in AMENITY_FLAGS:
            row.setdefault(flag, rng.randint(0, 1))
        amenities = sum(row[f] for f in AMENITY_FLAGS)
        price = (base + 60_000 * row["luas_kamar"] - 80_000 * row["jarak_ke_bca"]
                 + 150_000 * amenities + rng.gauss(0, 120_000))
        row["harga"] = int(max(price, 250_000))
        rows.append(row)
    return rows


def titled_rows(n: int = 160, seed: int = 5, premium: int = 900_000) -> list[dict]:
    """Synthetic listings whose title carries price: the word "Eksklusif", in 40% of the
    titles, adds `premium` Rupiah."""
    rng = random.Random(seed)
    rows = synthetic_rows(n, seed)
    for row in rows:
        exclusive = rng.random() < 0.4
        brand = rng.choice(("Singgahsini", "Apik", "Rukita", "Melati"))
        row["nama_kos"] = " ".join(["Kost", brand, *(["Eksklusif"] if exclusive else []),
                                    f"Tipe {rng.choice('ABC')}", "Menteng"])
        row["harga"] += premium * exclusive
    return rows


def write_csv(path: Path, rows: list[dict], columns=CSV_COLUMNS) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def train_version(root: Path, region: str, data: Path, version: str = "v1.0.0",
                  estimator: str = "ridge", seed: int = 42) -> Path:
    """Train a model and write it as `root/region/version` exactly like the CLI does."""
    result = training.train(region, data, estimator, seed, repeats=1)
    result.metadata["model_version"] = version
    return save_version(ModelRepository(root).version_dir(region, version),
                        result.model, result.metadata)


def build_models(root: Path, tmp: Path, regions=REGIONS, version: str = "v1.0.0") -> Path:
    """Write a small Ridge model for every region under root (synthetic data), with the
    region's evaluation set (its held-out rows, by reference to `tmp/listings/{region}.csv`:
    the listings directory, as ../shared/data/kos is for the shipped models)."""
    listings = tmp / LISTINGS
    listings.mkdir(parents=True, exist_ok=True)
    for i, region in enumerate(regions):
        data = write_csv(listings / f"{region}.csv",
                         synthetic_rows(seed=i, base=1_000_000 + 250_000 * i))
        train_version(root, region, data, version)
        build_evaluation_set(root, region, data)
    return root


def build_evaluation_set(root: Path, region: str, data: Path) -> dict:
    """Record the held-out rows of the serving model's data (in the listings directory
    `data.parent`) as the region's evaluation set (no audit record: the fixture's starting
    point, like the shipped sets)."""
    from kosprice.ml import evaluation
    from kosprice.ml.repository import check_version

    repository = ModelRepository(root)
    model = check_version(repository.version_dir(region, repository.serving_version(region)),
                          region)[1]
    return evaluation.store(root, evaluation.build(region, data, model, data.parent))


def edit_metadata(version_dir: Path, **changes) -> dict:
    """Rewrite a version's metadata.json: set keys, or delete those given `...`."""
    path = version_dir / "metadata.json"
    metadata = json.loads(path.read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is ...:
            metadata.pop(key, None)
        else:
            metadata[key] = value
    path.write_text(json.dumps(metadata), encoding="utf-8")
    return metadata


def copy_version(root: Path, region: str, name: str, source: str = "v1.0.0",
                 fix_metadata: bool = True) -> Path:
    """Copy a version folder to `name`; its model_version follows unless told otherwise."""
    target = Path(shutil.copytree(root / region / source, root / region / name))
    if fix_metadata:
        edit_metadata(target, model_version=name)
    return target


def fit_pipeline(estimator, rows: list[dict], numeric_step="scaler", target=None):
    """Fit the shipped model shape (scaling + one-hot + `estimator`) on listing rows.

    `numeric_step`: "scaler" (StandardScaler), "minmax", "robust" or "passthrough";
    `target`: None, "log" (TransformedTargetRegressor around the regressor) or "log1p-outer"
    (log1p/expm1 around the whole Pipeline).
    """
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, RobustScaler, StandardScaler

    from kosprice.features import CATEGORICAL_FEATURES
    from kosprice.ml.predictor import model_frame

    features = [c for c in CSV_COLUMNS[2:] if c not in ("is_ac", "is_internet")]
    features.append("amenities_count")
    numeric = [c for c in features if c not in CATEGORICAL_FEATURES]
    categorical = [c for c in features if c in CATEGORICAL_FEATURES]
    step = {"scaler": StandardScaler(), "minmax": MinMaxScaler(clip=True),
            "robust": RobustScaler(), "passthrough": "passthrough"}[numeric_step]
    regressor = estimator
    if target == "log":
        regressor = TransformedTargetRegressor(estimator, func=np.log, inverse_func=np.exp)
    model = Pipeline([("preprocess", ColumnTransformer(
        [("numeric", step, numeric),
         ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical)],
        verbose_feature_names_out=False)), ("estimator", regressor)])
    if target == "log1p-outer":
        model = TransformedTargetRegressor(model, func=np.log1p, inverse_func=np.expm1)
    frame = model_frame(rows, features)
    return model.fit(frame, pd.Series([float(r["harga"]) for r in rows])), features
