"""The fixed evaluation set of each region: rows that no candidate chooses or trains on.

Stored by reference, never as rows: `models/evaluation/manifest.json` holds, per region, the
source listings file's name and sha256, the row ids of the held-out rows
(kosprice.ml.listing_ids), and the sha256 of those rows' canonical content (CSV of row id,
price and every input, ordered by row id). Scoring reads the rows from the listings directory
(KOSPRICE_DATA_DIR, the folder `make train` reads too) and checks both checksums: listings
that are missing or differ fail closed (EvaluationDataError), naming the file and checksum
expected. The service never reads a set; only train, compare, promote and rollback do.

A set is the held-out rows of the data the serving version was trained on, reproduced from
that data (the file's sha256 must be the one in production's metadata) and checked:
production's MAE on the rows must equal its recorded MAE. The entry also records the version
it was checked against and the region's reference distribution (bins of price and of each
input over all the source's cleaned rows) that candidates' data is checked against. Changing
a set is an audited lifecycle action (kosprice.ml.evaluation_change).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kosprice.errors import LifecycleError
from kosprice.features import FEATURES, INPUT_FEATURES, NAME_COLUMN, TARGET
from kosprice.ml import training
from kosprice.ml.artifact import sha256_file, write_json_atomically
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
REFERENCE_KEYS = ("sha256", "rows", "row_ids", "source")


class EvaluationDataError(LifecycleError):
    """The listings an evaluation set refers to are missing or differ from the recorded ones."""


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
    """A region's evaluation set: its manifest entry and, once read and verified, its rows."""

    region: str
    entry: dict[str, Any]
    rows: pd.DataFrame | None = None
    """None when the listings could not be read (see `unavailable`)."""
    unavailable: str | None = None
    """Why the rows could not be read (only for a forced promotion, which goes on unscored)."""

    @property
    def sha256(self) -> str:
        """The sha256 of the rows' canonical content: the set's identity."""
        return self.entry["sha256"]

    @property
    def row_ids(self) -> frozenset[str]:
        return frozenset(self.entry["row_ids"])

    @property
    def source(self) -> str:
        """The listings file the rows come from, with its sha256."""
        return f"{self.entry['source']['file']} (sha256 {self.entry['source']['sha256']})"

    def describe(self) -> str:
        return (f"the {self.region} evaluation set ({self.entry['rows']} rows, "
                f"sha256 {self.sha256[:12]})")


def reference(models_dir: Path, region: str) -> EvaluationSet | None:
    """The region's evaluation set as the manifest records it (no rows); None without one."""
    entry = read_manifest(models_dir).get(region)
    if entry is None:
        return None
    source = entry.get("source") if isinstance(entry, dict) else None
    name = str(source.get("file", "")) if isinstance(source, dict) else ""
    if (not name or Path(name).name != name or "sha256" not in source
            or any(key not in entry for key in REFERENCE_KEYS)
            or not isinstance(entry["row_ids"], list)):
        raise LifecycleError(
            f"the {region} entry of {evaluation_dir(models_dir) / MANIFEST_FILE} does not "
            f"name its source listings, their sha256, row ids and the rows' sha256 "
            f"({', '.join(REFERENCE_KEYS)}): refusing to judge models on it; rebuild it with "
            "`kosprice evaluation-set`")
    return EvaluationSet(region, entry)


def select(frame: pd.DataFrame, ids: frozenset[str] | set[str]) -> pd.DataFrame:
    """The rows of a listings frame (as read_listings returns it) with the given row ids,
    as scored: canonical columns and the title (which the row id hashes, so the canonical
    content need not), ordered by row id, cleaned as training cleans kept rows."""
    frame = frame.assign(**{ROW_ID: row_ids(frame)})
    if NAME_COLUMN not in frame:
        frame[NAME_COLUMN] = ""
    rows = frame.loc[frame[ROW_ID].isin(ids), [*COLUMNS, NAME_COLUMN]]
    # Cleaning's only changes to a kept row's values (training.clean).
    rows["luas_kamar"] = rows["luas_kamar"].clip(lower=FEATURES["luas_kamar"].minimum)
    rows[NAME_COLUMN] = training.clean_titles(rows[NAME_COLUMN])
    return rows.sort_values(ROW_ID, ignore_index=True)


def materialise(fixed: EvaluationSet, data_dir: Path | None) -> EvaluationSet:
    """Read the set's rows from the listings directory; verify the file and the rows."""
    region, expected = fixed.region, fixed.entry["source"]["sha256"]
    if data_dir is None:
        raise EvaluationDataError(f"the {region} evaluation set is read from {fixed.source}, "
                                  "and no listings directory is configured (KOSPRICE_DATA_DIR)")
    path = Path(data_dir) / fixed.entry["source"]["file"]
    if not path.is_file():
        raise EvaluationDataError(
            f"the {region} evaluation set is read from {fixed.source}, which is not in the "
            f"listings directory {data_dir}: set KOSPRICE_DATA_DIR (make: DATA=folder) to the "
            "folder holding it")
    if (found := sha256_file(path)) != expected:
        raise EvaluationDataError(
            f"{path} has sha256 {found}, not the {expected} the {region} evaluation set was "
            "built from: refusing to judge models on other rows; restore that file, or rebuild "
            "the set with `kosprice evaluation-set`")
    rows = select(training.read_listings(path)[0], fixed.row_ids)
    if (found := digest(rows)) != fixed.sha256:
        raise EvaluationDataError(
            f"the {len(rows)} rows of {path} with the {region} evaluation set's row ids hash to "
            f"{found}, not the recorded {fixed.sha256} ({fixed.entry['rows']} rows): refusing "
            "to judge models on them; rebuild the set with `kosprice evaluation-set`")
    return replace(fixed, rows=rows)


def load(models_dir: Path, region: str, data_dir: Path | None,
         force: bool = False) -> EvaluationSet | None:
    """The region's evaluation set with its verified rows; None when it has none.

    Listings that are missing or differ raise EvaluationDataError, unless `force` (a forced
    promotion): then the set comes back without rows, saying why.
    """
    fixed = reference(models_dir, region)
    if fixed is None:
        return None
    try:
        return materialise(fixed, data_dir)
    except EvaluationDataError as exc:
        if not force:
            raise
        return replace(fixed, unavailable=exc.message)


def build(region: str, data: Path, production: LoadedModel, data_dir: Path | None,
          previous: EvaluationSet | None = None) -> EvaluationSet:
    """Reproduce the held-out rows of the data production was trained on, and check them.

    The result is read back from the listings directory exactly as scoring will read it.
    """
    frame, sha256 = training.read_listings(data)
    trained_on = production.metadata.get("training_data", {})
    if sha256 != trained_on.get("sha256"):
        raise LifecycleError(
            f"{Path(data).name} (sha256 {sha256[:12]}) is not the data {region} "
            f"{production.version} was trained on ({trained_on.get('file')}, sha256 "
            f"{str(trained_on.get('sha256'))[:12]}): an evaluation set is that data's held-out "
            "rows, the ones production never saw")
    cleaned, _, _ = training.clean(frame.assign(**{ROW_ID: row_ids(frame)}))
    seed = production.metadata.get("evaluation", {}).get("seed", training.SEED)
    held_out = previous.row_ids if previous is not None else frozenset()
    _, test_index, _ = training.split_rows(cleaned, region, seed, held_out)
    ids = sorted(set(cleaned.loc[test_index, ROW_ID]))
    rows = select(frame, set(ids))
    predicted = production.estimator.predict(training.model_inputs(rows, production.features))
    mae = training.score(rows[TARGET].astype(float), predicted)["mae"]
    recorded = float(production.metadata["metrics"]["mae"])
    if not math.isclose(mae, recorded, rel_tol=MAE_TOLERANCE):
        raise LifecycleError(
            f"could not reproduce the held-out rows of {region} {production.version}: its MAE "
            f"on them is {mae:,.0f}, its recorded MAE {recorded:,.0f} (was it trained with "
            "another split or cleaning?)")
    fixed = EvaluationSet(region, {
        "sha256": digest(rows), "rows": len(rows), "row_ids": ids,
        "source": {"file": Path(data).name, "sha256": sha256},
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "held_out_of": str(production.version), "production_mae": mae,
        "reference": reference_bins(cleaned),
    })
    try:
        return materialise(fixed, data_dir)
    except EvaluationDataError as exc:
        raise LifecycleError(f"{data} must be in the listings directory scoring reads "
                             f"evaluation sets from: {exc.message}") from None


def serialize(rows: pd.DataFrame) -> bytes:
    """The canonical content of evaluation rows, whose sha256 the manifest records."""
    return rows[list(COLUMNS)].to_csv(index=False).encode()


def digest(rows: pd.DataFrame) -> str:
    return hashlib.sha256(serialize(rows)).hexdigest()


def store(models_dir: Path, fixed: EvaluationSet) -> dict[str, Any]:
    """Record the set's reference as the region's entry of the manifest (atomically)."""
    folder = evaluation_dir(models_dir)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(models_dir)
    manifest[fixed.region] = fixed.entry
    write_json_atomically(folder / MANIFEST_FILE, manifest)
    return fixed.entry


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
