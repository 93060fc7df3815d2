"""Retire: older versions leave models/ for the archive, so startup validation passes again
after a scikit-learn upgrade; refusals, crash safety, the CLI and the Make target."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from kosprice.app import create_app
from kosprice.errors import LifecycleError
from kosprice.ml.repository import validate
from tests.factories import edit_metadata, train_version
from tests.lifecycle.conftest import REGION, better_data, kosprice_env, production_like
from tests.lifecycle.test_crash import kill_at
from tests.servers import ROOT


def add_production_versions(settings, tmp_path, *versions):
    data = production_like(tmp_path, name="extra.csv")
    for version in versions:
        train_version(settings.models_dir, REGION, data, version)


def production(lifecycle) -> list[str]:
    return [str(v) for v in lifecycle.production.versions(REGION)]


def archived(lifecycle) -> list[str]:
    return [str(v) for v in lifecycle.archive.versions(REGION)]


def dot_names(settings) -> list[str]:
    return [p.name for p in (settings.models_dir / REGION).iterdir() if p.name.startswith(".")]


def upgrade(settings, version: str = "v1.0.0") -> None:
    """The version was trained with a scikit-learn that is no longer installed."""
    edit_metadata(settings.models_dir / REGION / version, sklearn_version="0.0.1")


def test_retire_archives_older_versions_and_records_it(lifecycle, settings, tmp_path):
    add_production_versions(settings, tmp_path, "v1.1.0", "v1.2.0")
    record = lifecycle.retire(REGION, ["v1.0.0", "v1.1.0"], approved_by="Ana",
                              reason="no longer needed as rollback targets").record

    assert production(lifecycle) == ["v1.2.0"] and archived(lifecycle) == ["v1.0.0", "v1.1.0"]
    for version in ("v1.0.0", "v1.1.0"):
        folder = settings.archive_dir / REGION / version
        assert sorted(p.name for p in folder.iterdir()) == ["metadata.json", "model.pkl"]
    assert dot_names(settings) == [] and lifecycle.pending() == []
    assert validate(settings.models_dir)[0] == []

    lines = settings.audit_log.read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0]) == record
    assert record["action"] == "retire" and record["region"] == REGION
    assert (record["from_version"], record["to_version"]) == ("v1.2.0", "v1.2.0")
    assert record["retired"] == ["v1.1.0", "v1.0.0"]
    assert (record["approved_by"], record["forced"]) == ("Ana", False)
    serving = json.loads((settings.models_dir / REGION / "v1.2.0" / "metadata.json").read_text())
    assert record["model_sha256"] == serving["model_sha256"]
    # Scored again on the evaluation set: the rows its recorded metrics came from.
    assert record["metrics"]["to"] == pytest.approx(serving["metrics"])
    assert record["metrics"]["same_rows"] and "evaluation set" in record["metrics"]["evaluated_on"]
    # The same keys as a rollback record: the trail has one shape for both.
    rollback_keys = {"id", "at", "action", "region", "from_version", "to_version",
                     "approved_by", "reason", "forced", "retired", "metrics", "model_sha256"}
    assert set(record) == rollback_keys


def test_retire_refusals_change_nothing(lifecycle, settings, tmp_path):
    add_production_versions(settings, tmp_path, "v1.1.0")

    def refused(versions, match, approved_by="Ana", reason="r"):
        with pytest.raises(LifecycleError, match=match):
            lifecycle.retire(REGION, versions, approved_by=approved_by, reason=reason)

    refused(["v1.1.0"], "v1.1.0 is the serving version.*use rollback")
    refused(["v1.0.0", "v1.1.0"], "serving version")
    refused(["v9.0.0"], "not in production: yogyakarta v9.0.0 "
                        r"\(versions: v1.0.0, v1.1.0\)")
    refused(["1.0"], "not in production")
    refused([], "name the yogyakarta version")
    refused(["v1.0.0"], "--approved-by and a --reason", reason="  ")
    refused(["v1.0.0"], "--approved-by and a --reason", approved_by="")
    (settings.archive_dir / REGION / "v1.0.0").mkdir(parents=True)
    refused(["v1.0.0"], "archive already holds yogyakarta v1.0.0")

    assert production(lifecycle) == ["v1.0.0", "v1.1.0"]
    assert lifecycle.history() == [] and lifecycle.pending() == []


def test_retire_refuses_an_archived_version(lifecycle, settings, tmp_path):
    add_production_versions(settings, tmp_path, "v1.1.0", "v1.2.0")
    lifecycle.retire(REGION, ["v1.0.0"], approved_by="Ana", reason="old")
    with pytest.raises(LifecycleError, match="not in production: yogyakarta v1.0.0"):
        lifecycle.retire(REGION, ["v1.0.0"], approved_by="Ana", reason="again")
    assert len(lifecycle.history()) == 1


def test_retire_refuses_when_the_serving_version_fails_validation(lifecycle, settings,
                                                                  tmp_path):
    add_production_versions(settings, tmp_path, "v1.1.0")
    upgrade(settings, "v1.1.0")
    with pytest.raises(LifecycleError, match="serving version yogyakarta v1.1.0 fails the "
                                             "integrity checks: metadata.json: trained with"):
        lifecycle.retire(REGION, ["v1.0.0"], approved_by="Ana", reason="r")
    assert production(lifecycle) == ["v1.0.0", "v1.1.0"] and lifecycle.history() == []


def test_after_a_scikit_learn_upgrade_retire_makes_models_valid_again(cli, lifecycle, settings,
                                                                       tmp_path):
    upgrade(settings)
    version = cli.train(better_data(tmp_path), "--bump", "major",
                        "--reason", "scikit-learn upgrade")
    lifecycle.promote(REGION, version, approved_by="Ana", force=True,
                      reason="new scikit-learn; v1.0.0 no longer loads")
    problems = validate(settings.models_dir)[0]
    assert [p.path.parent.name for p in problems] == ["v1.0.0"]  # still a rollback target

    record = lifecycle.retire(REGION, ["v1.0.0"], approved_by="Ana",
                              reason="trained with the previous scikit-learn").record
    problems, models = validate(settings.models_dir)
    assert problems == [] and str(models[REGION].version) == version
    assert record["retired"] == ["v1.0.0"] and archived(lifecycle) == ["v1.0.0"]

    body = create_app(settings).test_client().get(f"/models/{REGION}").get_json()
    assert [(h["action"], h["to_version"]) for h in body["history"]] == [
        ("retire", version), ("promote", version)]
    assert body["history"][0]["retired"] == ["v1.0.0"]


@pytest.mark.parametrize("step", ["journaled", "hidden", "archived", "audited"])
def test_retire_killed_at_each_step(cli, lifecycle, settings, tmp_path, step):
    add_production_versions(settings, tmp_path, "v1.1.0", "v1.2.0")
    upgrade(settings)  # v1.0.0 fails validation: only the retire makes models/ valid
    kill_at(settings, step, "retire", "--region", REGION, "--version", "v1.0.0",
            "--version", "v1.1.0", "--approved-by", "Ana", "--reason", "old scikit-learn")
    problems, models = validate(settings.models_dir)
    assert {p.path.parent.name for p in problems} <= {"v1.0.0"}
    assert str(lifecycle.production.serving_version(REGION)) == "v1.2.0"

    recovered = cli("recover").output
    assert (f"recovered: completed the interrupted retire of {REGION} v1.1.0, v1.0.0 "
            "(approved by Ana)") in recovered
    assert validate(settings.models_dir)[0] == []
    assert production(lifecycle) == ["v1.2.0"] and archived(lifecycle) == ["v1.0.0", "v1.1.0"]
    assert [r["action"] for r in lifecycle.history()] == ["retire"]
    assert dot_names(settings) == [] and lifecycle.pending() == []
    assert "nothing to recover" in cli("recover").output


def test_retire_with_clirunner(cli, lifecycle, settings, tmp_path):
    add_production_versions(settings, tmp_path, "v1.1.0", "v1.2.0")
    upgrade(settings, "v1.1.0")
    retired = cli("retire", "--region", REGION, "--version", "v1.0.0", "--approved-by", "Ana",
                  "--reason", "too old")
    assert f"retired {REGION} v1.0.0 to the archive; v1.2.0 still serves" in retired.output
    # v1.1.0 still fails validation: the command says so, and that make reload would refuse.
    assert "warning: still fails validation" in retired.output and "v1.1.0" in retired.output

    retired = cli("retire", "--region", REGION, "--version", "v1.1.0", "--approved-by", "Ana",
                  "--reason", "old scikit-learn")
    assert "warning" not in retired.output and "make reload" in retired.output
    listing = cli("versions", "--region", REGION).output
    assert "production: *v1.2.0" in listing and "archived:   v1.0.0 v1.1.0" in listing
    trail = cli("audit", "--region", REGION).output.splitlines()
    assert len(trail) == 2 and "retire" in trail[0] and "v1.2.0 -> v1.2.0" in trail[0]
    assert "by Ana: too old" in trail[0] and trail[0].endswith("archived v1.0.0")

    refused = cli("retire", "--region", REGION, "--version", "v1.2.0", "--approved-by", "Ana",
                  "--reason", "r", ok=False)
    assert refused.exit_code == 1 and "serving version" in refused.output
    missing = cli("retire", "--region", REGION, "--approved-by", "Ana", "--reason", "r",
                  ok=False)
    assert missing.exit_code == 2 and "--version" in missing.output


def test_make_retire_as_a_real_process(lifecycle, settings, tmp_path):
    add_production_versions(settings, tmp_path, "v1.1.0", "v1.2.0")
    upgrade(settings)
    env = {"PATH": os.environ["PATH"], **kosprice_env(settings)}
    result = subprocess.run(
        ["make", "-s", "-o", "install", "retire", f"VENV={sys.prefix}", f"REGION={REGION}",
         "VERSIONS=v1.0.0 v1.1.0", "APPROVED_BY=Ana Putri", "REASON=old scikit-learn"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"retired {REGION} v1.1.0, v1.0.0 to the archive" in result.stdout
    assert validate(settings.models_dir)[0] == []
    [record] = lifecycle.history()
    assert (record["action"], record["approved_by"], record["reason"]) == (
        "retire", "Ana Putri", "old scikit-learn")
