"""Promote and rollback: gates, atomic copies, the archive and the audit trail."""

from __future__ import annotations

import errno
import json
import os

import pytest

from kosprice.app import create_app
from kosprice.errors import LifecycleError
from kosprice.ml.artifact import sha256_file
from kosprice.ml.repository import validate
from tests.factories import LISTING, train_version
from tests.lifecycle.conftest import REGION, better_data, production_like


def promote(lifecycle, version, **kwargs):
    return lifecycle.promote(REGION, version, approved_by="Ana", reason="better MAE", **kwargs)


def test_promote_copies_only_the_model_and_records_it(cli, lifecycle, settings, tmp_path):
    version = cli.train(better_data(tmp_path))
    record = promote(lifecycle, version).record

    folder = settings.models_dir / REGION / version
    assert sorted(p.name for p in folder.iterdir()) == ["metadata.json", "model.pkl"]
    assert [p.name for p in (settings.models_dir / REGION).iterdir()
            if p.name.startswith(".")] == []
    assert lifecycle.production.serving_version(REGION).__str__() == version
    assert validate(settings.models_dir)[0] == []

    lines = settings.audit_log.read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0]) == record
    assert record["action"] == "promote" and record["region"] == REGION
    assert (record["from_version"], record["to_version"]) == ("v1.0.0", version)
    assert (record["approved_by"], record["reason"], record["forced"]) == ("Ana", "better MAE",
                                                                           False)
    assert record["model_sha256"] == sha256_file(folder / "model.pkl")
    assert record["metrics"]["to"]["mae"] < record["metrics"]["from"]["mae"]
    assert record["at"].endswith("+00:00")


def test_promote_refuses_a_candidate_failing_validation(cli, lifecycle, tmp_path):
    version = cli.train(better_data(tmp_path))
    meta = lifecycle.candidates.version_dir(REGION, version) / "metadata.json"
    meta.write_text(meta.read_text().replace('"region": "yogyakarta"', '"region": "x"'))
    with pytest.raises(LifecycleError, match="integrity checks"):
        promote(lifecycle, version)
    assert lifecycle.history() == []


def test_a_worse_candidate_needs_force(cli, lifecycle, tmp_path):
    # A random forest on production's own (linear) data scores worse than its Ridge.
    version = cli.train(production_like(tmp_path), "--model", "random_forest")
    with pytest.raises(LifecycleError, match="worse than production.*--force"):
        promote(lifecycle, version)
    assert lifecycle.production.versions(REGION)[-1].__str__() == "v1.0.0"

    record = lifecycle.promote(REGION, version, approved_by="Ana", force=True,
                               reason="Ridge cannot follow the new pricing; accepted").record
    assert record["forced"] and record["verdict"] == "worse"
    assert lifecycle.history(REGION)[-1]["reason"].startswith("Ridge cannot")


def test_promote_refuses_reuse_and_versions_that_would_not_serve(cli, lifecycle, tmp_path):
    better = better_data(tmp_path)
    first, second = cli.train(better), cli.train(better)
    promote(lifecycle, second)
    with pytest.raises(LifecycleError, match="already in production"):
        promote(lifecycle, second)
    with pytest.raises(LifecycleError, match="would not serve"):
        promote(lifecycle, first)
    with pytest.raises(LifecycleError, match="no candidate"):
        promote(lifecycle, "v9.0.0")
    with pytest.raises(LifecycleError, match="--approved-by and a --reason"):
        lifecycle.promote(REGION, second, approved_by="Ana", reason="  ")


def test_promote_refuses_an_archived_version(cli, lifecycle, tmp_path):
    version = cli.train(better_data(tmp_path))
    promote(lifecycle, version)
    lifecycle.rollback(REGION, approved_by="Budi", reason="regression")
    with pytest.raises(LifecycleError, match="archived: version numbers are never reused"):
        promote(lifecycle, version)  # the candidate folder is still there
    assert str(lifecycle.production.serving_version(REGION)) == "v1.0.0"


def add_production_versions(settings, tmp_path, *versions):
    data = production_like(tmp_path, name="extra.csv")
    for version in versions:
        train_version(settings.models_dir, REGION, data, version)


def test_rollback_archives_the_newer_version(lifecycle, settings, tmp_path):
    add_production_versions(settings, tmp_path, "v1.1.0")
    record = lifecycle.rollback(REGION, approved_by="Budi", reason="complaints about prices").record

    assert [str(v) for v in lifecycle.production.versions(REGION)] == ["v1.0.0"]
    archived = settings.archive_dir / REGION / "v1.1.0"
    assert sorted(p.name for p in archived.iterdir()) == ["metadata.json", "model.pkl"]
    assert validate(settings.models_dir)[0] == []
    assert (record["from_version"], record["to_version"], record["retired"]) == (
        "v1.1.0", "v1.0.0", ["v1.1.0"])
    assert lifecycle.history(REGION) == [record]


def test_rollback_to_an_older_version_archives_every_newer_one(lifecycle, settings, tmp_path):
    add_production_versions(settings, tmp_path, "v1.1.0", "v2.0.0")
    record = lifecycle.rollback(REGION, approved_by="Budi", reason="bad data", to="v1.0.0").record
    assert record["retired"] == ["v2.0.0", "v1.1.0"]
    assert [str(v) for v in lifecycle.archive.versions(REGION)] == ["v1.1.0", "v2.0.0"]
    assert str(lifecycle.production.serving_version(REGION)) == "v1.0.0"


def test_rollback_refusals(lifecycle, settings, tmp_path):
    with pytest.raises(LifecycleError, match="only version"):
        lifecycle.rollback(REGION, approved_by="Budi", reason="r")
    add_production_versions(settings, tmp_path, "v1.1.0")
    with pytest.raises(LifecycleError, match="not in production"):
        lifecycle.rollback(REGION, approved_by="Budi", reason="r", to="v0.9.0")
    with pytest.raises(LifecycleError, match="must be older"):
        lifecycle.rollback(REGION, approved_by="Budi", reason="r", to="v1.1.0")
    assert lifecycle.history() == []


def test_rolled_back_versions_are_not_reused(cli, lifecycle, tmp_path):
    version = cli.train(better_data(tmp_path))
    promote(lifecycle, version)
    lifecycle.rollback(REGION, approved_by="Budi", reason="regression")
    assert cli.train(better_data(tmp_path)) == "v1.2.0"


def test_model_endpoint_includes_the_promotion_history(cli, lifecycle, settings, tmp_path):
    version = cli.train(better_data(tmp_path))
    promote(lifecycle, version)
    lifecycle.rollback(REGION, approved_by="Budi", reason="regression")

    client = create_app(settings).test_client()
    body = client.get(f"/models/{REGION}").get_json()
    assert body["model_version"] == "v1.0.0"
    assert [(h["action"], h["to_version"]) for h in body["history"]] == [
        ("rollback", "v1.0.0"), ("promote", version)]
    assert body["history"][1]["approved_by"] == "Ana"
    assert client.get("/models/jakarta_pusat").get_json()["history"] == []
    assert client.post(f"/predict/{REGION}", json=LISTING).status_code == 200


def test_rollback_refuses_when_the_archive_holds_the_version(lifecycle, settings, tmp_path):
    add_production_versions(settings, tmp_path, "v1.1.0")
    (settings.archive_dir / REGION / "v1.1.0").mkdir(parents=True)
    with pytest.raises(LifecycleError, match="archive already holds yogyakarta v1.1.0"):
        lifecycle.rollback(REGION, approved_by="Budi", reason="r")
    assert str(lifecycle.production.serving_version(REGION)) == "v1.1.0"
    assert lifecycle.history() == [] and lifecycle.pending() == []


def test_rollback_refuses_an_invalid_target(lifecycle, settings, tmp_path):
    add_production_versions(settings, tmp_path, "v1.1.0", "v1.2.0")
    pickle = settings.models_dir / REGION / "v1.1.0" / "model.pkl"
    pickle.write_bytes(pickle.read_bytes() + b"\0")
    with pytest.raises(LifecycleError, match="rollback target yogyakarta v1.1.0 fails the "
                                             "integrity checks: model.pkl: sha256"):
        lifecycle.rollback(REGION, approved_by="Budi", reason="r", to="v1.1.0")
    with pytest.raises(LifecycleError, match="not in production"):
        lifecycle.rollback(REGION, approved_by="Budi", reason="r", to="1.0")
    assert str(lifecycle.production.serving_version(REGION)) == "v1.2.0"
    assert lifecycle.history() == []


def test_rollback_into_an_archive_on_another_file_system(lifecycle, settings, tmp_path,
                                                         monkeypatch):
    add_production_versions(settings, tmp_path, "v1.1.0")
    rename, refused = os.rename, []

    def cross_device(source, target):
        if str(target).startswith(str(settings.archive_dir)) and not refused:
            refused.append(target)
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return rename(source, target)

    monkeypatch.setattr(os, "rename", cross_device)
    lifecycle.rollback(REGION, approved_by="Budi", reason="regression")
    assert refused == [settings.archive_dir / REGION / "v1.1.0"]  # copied instead
    archived = settings.archive_dir / REGION / "v1.1.0"
    assert sorted(p.name for p in archived.iterdir()) == ["metadata.json", "model.pkl"]
    assert [p.name for p in archived.parent.iterdir()] == ["v1.1.0"]  # no temporary copy
    assert [p.name for p in (settings.models_dir / REGION).iterdir()] == ["v1.0.0"]
    assert validate(settings.models_dir)[0] == []
