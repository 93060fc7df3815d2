"""The fixed evaluation set: every candidate and production scored on rows no candidate
chooses or trains on; the candidate's data checked against the region's; changes audited."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from kosprice.app import create_app
from kosprice.errors import LifecycleError
from kosprice.features import INPUT_FEATURES, REGIONS, TARGET
from kosprice.ml import evaluation
from kosprice.ml.artifact import sha256_file
from kosprice.ml.comparison import evaluate
from kosprice.ml.evaluation import EvaluationDataError
from kosprice.ml.lifecycle import Lifecycle
from kosprice.ml.listing_ids import ROW_ID
from kosprice.ml.repository import check_version
from kosprice.ml.versions import Version
from tests.conftest import IN_CI
from tests.factories import LISTING, REAL_DATA, synthetic_rows, write_csv
from tests.lifecycle.conftest import (
    BASE,
    REGION,
    assert_one_line_error,
    better_data,
    production_like,
    run_kosprice,
)
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


def test_missing_or_changed_listings_fail_closed_naming_the_file_and_checksum(
        cli, lifecycle, settings, tmp_path):
    version = cli.train(better_data(tmp_path))
    fixed = lifecycle.evaluation_set(REGION)
    source = settings.data_dir / fixed.entry["source"]["file"]
    expected = fixed.entry["source"]["sha256"]
    promote = ["promote", "--region", REGION, "--version", version, "--approved-by", "Ana",
               "--reason", "r"]

    source.write_bytes(source.read_bytes() + source.read_bytes().splitlines(True)[-1])
    with pytest.raises(EvaluationDataError, match=f"{source}.*not the {expected}"):
        lifecycle.compare(REGION, version)
    for args in (["compare", "--region", REGION, "--candidate", version], promote):
        assert_one_line_error(run_kosprice(settings, *args), f"not the {expected}")

    source.unlink()
    for args in (["compare", "--region", REGION, "--candidate", version], promote):
        result = run_kosprice(settings, *args)
        assert_one_line_error(result, f"{source.name} (sha256 {expected})")
        assert "KOSPRICE_DATA_DIR" in result.stderr
    unset = run_kosprice(settings, *promote, extra_env={"KOSPRICE_DATA_DIR": str(tmp_path)})
    assert_one_line_error(unset, f"not in the listings directory {tmp_path}")
    assert "--force" in unset.stderr
    assert str(lifecycle.production.serving_version(REGION)) == "v1.0.0"

    # Forced with a reason, as any promotion that cannot be judged: recorded as unscored.
    forced = lifecycle.promote(REGION, version, approved_by="Ana", reason="listings lost",
                               force=True)
    assert forced.record["forced"] and forced.record["verdict"] == "incomparable"
    assert forced.record["metrics"]["evaluation_sha256"] is None
    assert forced.record["metrics"]["evaluated_on"] == "the candidate's held-out rows"


def test_rows_that_do_not_hash_to_the_recorded_checksum_are_refused(cli, lifecycle, tmp_path):
    version = cli.train(better_data(tmp_path))
    manifest = lifecycle.models_dir / "evaluation" / "manifest.json"
    entries = json.loads(manifest.read_text())
    entries[REGION]["row_ids"] = entries[REGION]["row_ids"][1:]  # one row fewer
    manifest.write_text(json.dumps(entries))
    with pytest.raises(EvaluationDataError, match="hash to [0-9a-f]{64}, not the recorded"):
        lifecycle.compare(REGION, version)

    del entries[REGION]["row_ids"]
    manifest.write_text(json.dumps(entries))
    with pytest.raises(LifecycleError, match="does not name its source listings"):
        lifecycle.compare(REGION, version)

    del entries[REGION]
    manifest.write_text(json.dumps(entries))
    comparison, _ = lifecycle.compare(REGION, version)
    assert comparison.verdict == "incomparable" and "no evaluation set" in comparison.explanation


def test_the_rows_are_read_from_the_listings_and_hash_to_the_recorded_checksum(
        lifecycle, settings):
    fixed = lifecycle.evaluation_set(REGION)
    entry = fixed.entry
    # Nothing but references is stored: the listings file, its checksum, row ids, checksums.
    assert [p.name for p in (lifecycle.models_dir / "evaluation").iterdir()] == [
        "manifest.json"]
    assert set(entry) == {"sha256", "rows", "row_ids", "source", "built_at", "held_out_of",
                          "production_mae", "reference"}
    assert entry["source"] == {"file": f"{REGION}.csv",
                               "sha256": sha256_file(settings.data_dir / f"{REGION}.csv")}
    canonical = fixed.rows[[ROW_ID, TARGET, *INPUT_FEATURES]].to_csv(index=False).encode()
    assert hashlib.sha256(canonical).hexdigest() == entry["sha256"]
    assert len(fixed.rows) == entry["rows"] == len(entry["row_ids"]) > 0
    assert sorted(fixed.rows[ROW_ID]) == entry["row_ids"]
    # They are the rows production was scored on when it was trained, and never trained on.
    production = lifecycle.baseline(REGION).model
    scored = evaluate(production.estimator, production.metadata, fixed.rows, None)
    assert scored.metrics["mae"] == pytest.approx(production.metadata["metrics"]["mae"])


def test_the_service_starts_and_predicts_without_the_listings(settings, tmp_path):
    app = create_app(replace(settings, data_dir=tmp_path / "nowhere"))
    client = app.test_client()
    assert client.get("/health").status_code == 200
    assert client.post(f"/predict/{REGION}", json=LISTING).status_code == 200


def test_changing_the_evaluation_set_is_audited_and_checked(cli, lifecycle, settings, tmp_path):
    data = settings.data_dir / f"{REGION}.csv"  # what the fixture's production saw
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
    elsewhere = Path(shutil.copy(data, tmp_path / "copy.csv"))
    outside = cli("evaluation-set", "--region", REGION, "--data", str(elsewhere),
                  "--approved-by", "Ana", "--reason", "r", ok=False)
    assert outside.exit_code == 1 and "must be in the listings directory" in outside.output
    assert lifecycle.evaluation_set(REGION) is None

    built = cli("evaluation-set", "--region", REGION, "--data", str(data), "--approved-by", "Ana",
                "--reason", "restore")
    assert f"(none) -> {old.sha256[:12]}" in built.output
    assert lifecycle.evaluation_set(REGION).entry["row_ids"] == old.entry["row_ids"]
    record = lifecycle.history(REGION)[-1]
    assert record["action"] == "evaluation-set" and record["approved_by"] == "Ana"
    assert record["evaluation_set"]["sha256"] == old.sha256
    assert "evaluation-set" in cli("audit", "--region", REGION).output


def test_no_listing_rows_are_committed():
    tracked = subprocess.run(["git", "ls-files", "*.csv", "models/evaluation"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split()
    assert tracked == ["models/evaluation/manifest.json"]


@pytest.mark.parametrize("region", REGIONS)
def test_shipped_models_pass_their_evaluation_set_honestly(region):
    """The serving model's MAE on the shipped set, read from the real listings, is its
    recorded held-out MAE: the set is exactly the rows it was scored on and never trained on."""
    fixed = evaluation.load(ROOT / "models", region, real_listings(region).parent)
    lifecycle = Lifecycle(ROOT / "models", ROOT / "candidates", ROOT / "archive",
                          ROOT / "models" / "audit.jsonl")
    model = lifecycle.baseline(region).model
    assert fixed is not None and fixed.rows[ROW_ID].is_unique
    scored = evaluate(model.estimator, model.metadata, fixed.rows, None).metrics["mae"]
    assert scored == pytest.approx(model.metadata["metrics"]["mae"], rel=1e-9)


@pytest.mark.parametrize("region", ["jakarta_utara", "yogyakarta"])
def test_v1_0_0_is_held_out_from_the_same_set_where_it_shares_the_split(region):
    fixed = evaluation.load(ROOT / "models", region, real_listings(region).parent)
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
def test_shipped_evaluation_sets_are_reproduced_from_the_real_data(region):
    data = real_listings(region)
    fixed = evaluation.load(ROOT / "models", region, data.parent)
    assert evaluation.digest(fixed.rows) == fixed.sha256 and fixed.rows[ROW_ID].is_unique
    folder = ROOT / "models" / region
    serving = max((p for p in folder.iterdir() if Version.is_valid(p.name)),
                  key=lambda p: Version.parse(p.name))
    built = evaluation.build(region, data, check_version(serving, region)[1], data.parent, fixed)
    assert built.sha256 == fixed.sha256 and built.entry["row_ids"] == fixed.entry["row_ids"]


def test_the_reported_wrong_region_promotion_is_refused_on_the_real_data(tmp_path):
    """The case that fooled the old gate: yogyakarta trained on jakarta_pusat's listings."""
    data = real_listings("jakarta_pusat")
    models = Path(shutil.copytree(ROOT / "models", tmp_path / "models",
                                  ignore=shutil.ignore_patterns(".*")))
    lifecycle = Lifecycle(models, tmp_path / "candidates", tmp_path / "archive",
                          models / "audit.jsonl", data_dir=data.parent)
    candidate = lifecycle.train_candidate("yogyakarta", data, bump="minor", reason="repro",
                                          estimator_name="ridge")
    comparison = candidate.comparison
    assert comparison.verdict == "worse" and len(comparison.shift) == 2
    with pytest.raises(LifecycleError, match="worse than production.*data shift"):
        lifecycle.promote("yogyakarta", str(candidate.folder.name), "Ana", "wrong region")
