"""The fixed evaluation set of each region: rows that no candidate chooses or trains on.

Beside the models:
    models/evaluation/manifest.json          {region: entry}
    models/evaluation/{region}-{sha12}.csv    row_id, price and every catalogue input

A set is the held-out rows of the data the serving version was trained on, reproduced from
that data (the file's sha256 must be the one in production's metadata) and checked: production's
MAE on the rows must equal its recorded MAE. The entry records the file, its sha256, the
source, the version it was checked against, and the region's reference distribution (bins of
price and of each input over all the source's cleaned rows) that candidates' data is checked
against. Files are named by content, so an older set is never overwritten; changing the set is
an audited lifecycle action. Reading verifies the checksum: a set that does not match fails
closed (LifecycleError).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kosprice.errors import LifecycleError
from kosprice.features import INPUT_FEATURES, TARGET
from kosprice.ml import training
from kosprice.ml.artifact import fsync_dir, sha256_file, write_json_atomically
from kosprice.ml.listing_ids import ROW_ID, row_ids
from kosprice.ml.repository import EVALUATION_DIR, LoadedModel

MANIFEST_FILE = "manifest.json"
COLUMNS = (ROW_ID, TARGET, *INPUT_FEATURES)
LARGE_PSI = 0.5
"""A training column whose PSI against the region's reference exceeds this has shifted a lot
(0.25 is the usual "significant" line; sampling noise of ~100 held-out rows stays near 0.1)."""
LARGE_ERROR_RATIO = 1.5
"""Production's MAE on a candidate's rows above this multiple of its recorded MAE: the rows
are not like the ones production was made for."""
MAE_TOLERANCE = 1e-6


def evaluation_dir(models_dir: Path) -> Path:
    return Path(models_dir) / EVALUATION_DIR


def read_manifest(models_dir: Path) -> dict[str, Any]:
    path = evaluation_dir(models_dir) / MANIFEST_FILE
    if not path.is_file():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise LifecycleError(f"{path} is not valid JSON ({exc}): the evaluation sets cannot "
                             "be trusted; restore it from version control") from None
    return manifest if isinstance(manifest, dict) else {}


@dataclass(frozen=True)
class EvaluationSet:
    """A region's evaluation rows, read and checksum-verified, with their manifest entry."""

    region: str
    rows: pd.DataFrame
    entry: dict[str, Any]

    @property
    def sha256(self) -> str:
        return self.entry["sha256"]

    @property
    def row_ids(self) -> frozenset[str]:
        return frozenset(self.rows[ROW_ID].astype(str))

    def describe(self) -> str:
        return (f"the {self.region} evaluation set ({len(self.rows)} rows, "
                f"sha256 {self.sha256[:12]})")


def load(models_dir: Path, region: str) -> EvaluationSet | None:
    """The region's evaluation set; None when it has none. A broken one is refused."""
    entry = read_manifest(models_dir).get(region)
    if entry is None:
        return None
    path = evaluation_dir(models_dir) / str(entry.get("file", ""))
    if not path.is_file():
        raise LifecycleError(f"the {region} evaluation set {path} is missing")
    if sha256_file(path) != entry.get("sha256"):
        raise LifecycleError(f"the {region} evaluation set {path} does not match its sha256 in "
                             f"{MANIFEST_FILE}: refusing to judge models on it")
    return EvaluationSet(region, pd.read_csv(path, dtype={ROW_ID: str}), entry)


def build(region: str, data: Path, production: LoadedModel,
          previous: EvaluationSet | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Reproduce the held-out rows of the data production was trained on, and check them."""
    frame, sha256 = training.read_listings(data)
    trained_on = production.metadata.get("training_data", {})
    if sha256 != trained_on.get("sha256"):
        raise LifecycleError(
            f"{Path(data).name} (sha256 {sha256[:12]}) is not the data {region} "
            f"{production.version} was trained on ({trained_on.get('file')}, sha256 "
            f"{str(trained_on.get('sha256'))[:12]}): an evaluation set is that data's held-out "
            "rows, the ones production never saw")
    frame[ROW_ID] = row_ids(frame)
    cleaned, _, _ = training.clean(frame)
    seed = production.metadata.get("evaluation", {}).get("seed", training.SEED)
    held_out = previous.row_ids if previous is not None else frozenset()
    _, test_index, _ = training.split_rows(cleaned, region, seed, held_out)
    # Ordered by row id: the same rows always make the same file (and sha256).
    rows = cleaned.loc[test_index, list(COLUMNS)].sort_values(ROW_ID, ignore_index=True)
    features = production.features
    predicted = production.estimator.predict(training.model_inputs(rows, features))
    mae = training.score(rows[TARGET].astype(float), predicted)["mae"]
    recorded = float(production.metadata["metrics"]["mae"])
    if not math.isclose(mae, recorded, rel_tol=MAE_TOLERANCE):
        raise LifecycleError(
            f"could not reproduce the held-out rows of {region} {production.version}: its MAE "
            f"on them is {mae:,.0f}, its recorded MAE {recorded:,.0f} (was it trained with "
            "another split or cleaning?)")
    entry = {
        "rows": len(rows), "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": {"file": Path(data).name, "sha256": sha256},
        "held_out_of": str(production.version), "production_mae": mae,
        "reference": reference_bins(cleaned),
    }
    return rows, entry


def serialize(rows: pd.DataFrame) -> bytes:
    """The bytes of an evaluation set's file."""
    return rows[list(COLUMNS)].to_csv(index=False).encode()


def digest(rows: pd.DataFrame) -> str:
    return hashlib.sha256(serialize(rows)).hexdigest()


def store(models_dir: Path, region: str, rows: pd.DataFrame,
          entry: dict[str, Any]) -> dict[str, Any]:
    """Write the rows under a content-addressed name, then switch the manifest to them."""
    folder = evaluation_dir(models_dir)
    folder.mkdir(parents=True, exist_ok=True)
    data = serialize(rows)
    tmp = folder / f".{region}.csv.tmp"
    tmp.write_bytes(data)
    sha256 = sha256_file(tmp)
    name = f"{region}-{sha256[:12]}.csv"
    tmp.rename(folder / name)
    fsync_dir(folder)
    entry = {"file": name, "sha256": sha256, **entry}
    manifest = read_manifest(models_dir)
    manifest[region] = entry
    write_json_atomically(folder / MANIFEST_FILE, manifest)
    return entry


def _value_key(value: object) -> str:
    try:
        return f"{float(value):g}"  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)


def reference_bins(frame: pd.DataFrame) -> dict[str, Any]:
    """Deciles of price and of every many-valued number; counts per value otherwise."""
    bins = {}
    for column in (TARGET, *INPUT_FEATURES):
        values = frame[column]
        if column == TARGET or (values.dtype.kind == "f" and values.nunique() > 10):
            bins[column] = training.decile_bins(values.astype(float))
        else:
            counts = values.map(_value_key).value_counts().sort_index()
            bins[column] = {"values": counts.index.tolist(), "counts": counts.tolist()}
    return bins


def psi(reference: list[float], actual: list[float], epsilon: float = 1e-4) -> float:
    """Population stability index of actual counts against reference counts (same bins)."""
    ref = np.maximum(np.asarray(reference, float) / sum(reference), epsilon)
    act = np.maximum(np.asarray(actual, float) / max(sum(actual), 1), epsilon)
    return float(np.sum((act - ref) * np.log(act / ref)))


def shift(frame: pd.DataFrame, reference: dict[str, Any]) -> dict[str, float]:
    """PSI of each referenced column of frame against the region's reference bins.

    Numbers outside the reference range count in the end bins; a value the reference never
    saw counts in an extra bin whose reference share is 0.
    """
    found = {}
    for column, bins in reference.items():
        if column not in frame:
            continue
        values = frame[column]
        if "edges" in bins:
            edges = np.asarray(bins["edges"], float)
            counts, _ = np.histogram(np.clip(values.astype(float), edges[0], edges[-1]), edges)
            found[column] = psi(bins["counts"], counts.tolist())
        else:
            seen = values.map(_value_key).value_counts()
            known = [int(seen.get(v, 0)) for v in bins["values"]]
            found[column] = psi([*bins["counts"], 0], [*known, len(values) - sum(known)])
    return found
