"""The fixed evaluation set: every candidate and production scored on rows no candidate
chooses or trains on; the candidate's data checked against the region's; changes audited."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kosprice.errors import LifecycleError
from kosprice.features import REGIONS
from kosprice.ml import evaluation
from kosprice.ml.comparison import evaluate
from kosprice.ml.lifecycle import Lifecycle
from kosprice.ml.listing_ids import ROW_ID
from kosprice.ml.repository import check_version
from tests.conftest import IN_CI
from tests.factories import REAL_DATA, synthetic_rows, write_csv
from tests.lifecycle.conftest import BASE, REGION, better_data, production_like
from tests.servers import ROOT

OTHER_REGION_BASE = BASE + 1_200_000
"""Where the wrong region's listings are priced: another market, like jakarta_pusat's."""


def wrong_region(tmp: Path) -> Path:
    return write_csv(tmp / "other_region.csv", synthetic_rows(n=500, seed=11,
                                                              base=OTHER_REGION_BASE))


def test_a_candidate_trained_on_another_regions_data_is_refused(cli, lifecycle, tmp_path):
    data = wrong_region(tmp_path)
    refused = cli("train", "--region", REGION, "--data", str(data), "--model", "ridge", ok=False)
    assert refused.exit_code == 1
    assert "no MAE improvement" in refused.output and "evaluation set" in refused.output

    # Declared anyway: it is written, compare flags the shift, promote refuses without --force.
    version = cli.train(data, "--bump", "minor", "--reason", "try the other region's data")
    comparison, _ = lifecycle.compare(REGION, version)
    assert comparison.verdict == "worse" and comparison.needs_force
    assert comparison.basis.startswith(f"the {REGION} evaluation set")
    psi_finding, error_finding = comparison.shift
    assert "PSI harga" in psi_finding and "500 training rows" in psi_finding
    assert "x its recorded" in error_finding
    shown = cli("compare", "--region", REGION, "--candidate", version).output
    assert "SHIFT: the candidate's data" in shown and "verdict: worse" in shown

    with pytest.raises(LifecycleError, match="worse than production.*data shift.*--force"):
        lifecycle.promote(REGION, version, approved_by="Ana", reason="looks fine")
    assert str(lifecycle.production.serving_version(REGION)) == "v1.0.0"
    forced = lifecycle.promote(REGION, version, approved_by="Ana", reason="test", force=True)
    assert forced.record["forced"] and len(forced.record["shift"]) == 2
    assert forced.record["metrics"]["evaluation_sha256"] == lifecycle.evaluation_set(
        REGION).sha256


def test_a_better_candidate_is_judged_on_the_evaluation_set_and_never_trains_on_it(
        cli, lifecycle, tmp_path):
    fixed = lifecycle.evaluation_set(REGION)
    version = cli.train(better_data(tmp_path))
    candidate, holdout = lifecycle.candidate(REGION, version)
    assert candidate.metadata["evaluation"]["stratify"] == "the region's evaluation set"
    assert candidate.metadata["evaluation"]["test_rows"] == len(fixed.rows)
    # Its held-out rows are exactly the evaluation rows: it never trained on them.
    assert sorted(holdout["harga"]) == sorted(fixed.rows["harga"])

    comparison, _ = lifecycle.compare(REGION, version)
    assert comparison.verdict == "better" and not comparison.shift
    assert comparison.rows == len(fixed.rows)
    production = lifecycle.baseline(REGION).model
    assert comparison.production.metrics["mae"] == pytest.approx(
        evaluate(production.estimator, production.metadata, fixed.rows, None).metrics["mae"])
    lifecycle.promote(REGION, version, approved_by="Ana", reason="lower MAE")


def test_a_price_shift_that_once_looked_better_is_refused(cli, lifecycle, tmp_path):
    # The old gate re-scored production on the candidate's own rows: prices moved by 600k
    # made production look bad and the candidate "better".
    data = production_like(tmp_path, "shifted.csv", shift=600_000)
    result = cli("train", "--region", REGION, "--data", str(data), "--model", "ridge", ok=False)
    assert result.exit_code == 1 and "no MAE improvement" in result.output


def test_a_tampered_or_missing_evaluation_set_fails_closed(cli, lifecycle, tmp_path):
    version = cli.train(better_data(tmp_path))
    path = lifecycle.models_dir / "evaluation" / lifecycle.evaluation_set(REGION).entry["file"]
    path.write_bytes(path.read_bytes().replace(b"\n", b"\n", 1) + b"\n")
    with pytest.raises(LifecycleError, match="does not match its sha256"):
        lifecycle.compare(REGION, version)
    result = cli("promote", "--region", REGION, "--version", version, "--approved-by", "Ana",
                 "--reason", "r", ok=False)
    assert result.exit_code == 1 and "does not match its sha256" in result.output

    manifest = path.parent / "manifest.json"
    entries = json.loads(manifest.read_text())
    del entries[REGION]
    manifest.write_text(json.dumps(entries))
    comparison, _ = lifecycle.compare(REGION, version)
    assert comparison.verdict == "incomparable" and "no evaluation set" in comparison.explanation


def test_changing_the_evaluation_set_is_audited_and_checked(cli, lifecycle, tmp_path):
    data = production_like(tmp_path, "production.csv")  # what the fixture's production saw
    old = lifecycle.evaluation_set(REGION)
    again = cli("evaluation-set", "--region", REGION, "--data", str(data), "--approved-by", "Ana",
                "--reason", "rebuild", ok=False)
    assert again.exit_code == 1 and "already holds exactly these rows" in again.output

    other = cli("evaluation-set", "--region", REGION, "--data", str(better_data(tmp_path)),
                "--approved-by", "Ana", "--reason", "r", ok=False)
    assert other.exit_code == 1 and "is not the data" in other.output

    manifest = lifecycle.models_dir / "evaluation" / "manifest.json"
    entries = json.loads(manifest.read_text())
    del entries[REGION]
    manifest.write_text(json.dumps(entries))
    built = cli("evaluation-set", "--region", REGION, "--data", str(data), "--approved-by", "Ana",
                "--reason", "restore")
    assert f"(none) -> {old.sha256[:12]}" in built.output
    record = lifecycle.history(REGION)[-1]
    assert record["action"] == "evaluation-set" and record["approved_by"] == "Ana"
    assert record["evaluation_set"]["sha256"] == old.sha256
    assert "evaluation-set" in cli("audit", "--region", REGION).output


@pytest.mark.parametrize("region", REGIONS)
def test_shipped_models_pass_their_evaluation_set_honestly(region):
    """The serving model's MAE on the committed set is its recorded held-out MAE: the set is
    exactly the rows it was scored on and never trained on."""
    fixed = evaluation.load(ROOT / "models", region)
    lifecycle = Lifecycle(ROOT / "models", ROOT / "candidates", ROOT / "archive",
                          ROOT / "models" / "audit.jsonl")
    model = lifecycle.baseline(region).model
    assert fixed is not None and fixed.rows[ROW_ID].is_unique
    scored = evaluate(model.estimator, model.metadata, fixed.rows, None).metrics["mae"]
    assert scored == pytest.approx(model.metadata["metrics"]["mae"], rel=1e-9)


@pytest.mark.parametrize("region", ["jakarta_utara", "yogyakarta"])
def test_v1_0_0_is_held_out_from_the_same_set_where_it_shares_the_split(region):
    fixed = evaluation.load(ROOT / "models", region)
    model = check_version(ROOT / "models" / region / "v1.0.0", region)[1]
    scored = evaluate(model.estimator, model.metadata, fixed.rows, None).metrics["mae"]
    assert scored == pytest.approx(model.metadata["metrics"]["mae"], rel=1e-9)


def real_listings(region: str) -> Path:
    data = REAL_DATA / f"{region}.csv"
    if not data.is_file():
        message = f"real listings for {region} are not available (../shared/data/kos/{data.name})"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return data


@pytest.mark.parametrize("region", REGIONS)
def test_committed_evaluation_sets_are_reproduced_from_the_real_data(region):
    data = real_listings(region)
    fixed = evaluation.load(ROOT / "models", region)
    folder = ROOT / "models" / region
    serving = sorted(p for p in folder.iterdir() if p.name.startswith("v"))[-1]
    rows, _ = evaluation.build(region, data, check_version(serving, region)[1], fixed)
    assert evaluation.digest(rows) == fixed.sha256


def test_the_reported_wrong_region_promotion_is_refused_on_the_real_data(tmp_path):
    """The case that fooled the old gate: yogyakarta trained on jakarta_pusat's listings."""
    data = real_listings("jakarta_pusat")
    models = Path(shutil.copytree(ROOT / "models", tmp_path / "models",
                                  ignore=shutil.ignore_patterns(".*")))
    lifecycle = Lifecycle(models, tmp_path / "candidates", tmp_path / "archive",
                          models / "audit.jsonl")
    candidate = lifecycle.train_candidate("yogyakarta", data, bump="minor", reason="repro",
                                          estimator_name="ridge")
    comparison = candidate.comparison
    assert comparison.verdict == "worse" and len(comparison.shift) == 2
    with pytest.raises(LifecycleError, match="worse than production.*data shift"):
        lifecycle.promote("yogyakarta", str(candidate.folder.name), "Ana", "wrong region")
