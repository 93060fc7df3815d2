"""The lifecycle commands, in-process with CliRunner and as the installed `kosprice` script."""

from __future__ import annotations

import json
import shlex

from kosprice.ml.journal import Journal
from kosprice.ml.registry import write_manifest
from kosprice.ml.repository import load_or_fail, validate
from tests.lifecycle.conftest import REGION, better_data, production_like, run_kosprice


def test_governed_path_with_clirunner(cli, settings, tmp_path):
    version = cli.train(better_data(tmp_path))
    trained = cli("versions", "--region", REGION).output
    assert "production: *v1.0.0" in trained and f"candidates: {version}" in trained

    assert "verdict: better" in cli("compare", "--region", REGION, "--candidate", version).output
    promoted = cli("promote", "--region", REGION, "--version", version, "--approved-by", "Ana",
                   "--reason", "lower MAE").output
    assert f"promoted {REGION} v1.0.0 -> {version}" in promoted and "make reload" in promoted
    assert f"production: v1.0.0 *{version}" in cli("versions").output

    rolled = cli("rollback", "--region", REGION, "--approved-by", "Budi", "--reason", "regression")
    assert f"rolled back {REGION} {version} -> v1.0.0; archived {version}" in rolled.output
    listing = cli("versions", "--region", REGION).output
    assert "production: *v1.0.0" in listing and f"archived:   {version}" in listing

    trail = cli("audit", "--region", REGION).output.splitlines()
    assert len(trail) == 2 and "promote" in trail[0] and "by Ana: lower MAE" in trail[0]
    assert "rollback" in trail[1] and f"{version} -> v1.0.0" in trail[1]
    records = [json.loads(line) for line in cli("audit", "--json").output.splitlines()]
    assert [r["action"] for r in records] == ["promote", "rollback"]
    assert cli("audit", "--region", "jakarta_pusat").output == ""


def test_train_out_prints_the_compare_command_for_that_folder_and_it_works(cli, tmp_path):
    out = tmp_path / "my experiments"
    trained = cli("train", "--region", REGION, "--data", str(better_data(tmp_path)),
                  "--model", "ridge", "--out", str(out)).output
    command = shlex.split(trained.rsplit("review it with `", 1)[1].split("`")[0])
    assert command[0] == "kosprice" and command[-2:] == ["--candidates-dir", str(out)]
    version = command[command.index("--candidate") + 1]
    assert (out / REGION / version).is_dir()

    alone = cli("compare", "--region", REGION, "--candidate", version, ok=False)
    assert alone.exit_code == 1 and f"no candidate {REGION} {version}" in alone.output
    compared = cli(*command[1:]).output
    assert "verdict: better" in compared and f"report: {out / REGION / version}" in compared


def test_train_into_the_candidates_directory_prints_compare_without_a_directory(cli, tmp_path):
    trained = cli("train", "--region", REGION, "--data", str(better_data(tmp_path)),
                  "--model", "ridge").output
    assert "--candidates-dir" not in trained and "`kosprice compare --region" in trained


def test_refusals_exit_non_zero_with_a_message(cli, tmp_path):
    result = cli("rollback", "--region", REGION, "--approved-by", "Budi", "--reason", "r", ok=False)
    assert result.exit_code == 1 and "only version" in result.output
    version = cli.train(production_like(tmp_path), "--model", "random_forest")
    result = cli("promote", "--region", REGION, "--version", version, "--approved-by", "Ana",
                 "--reason", "r", ok=False)
    assert result.exit_code == 1 and "--force" in result.output
    missing = cli("promote", "--region", REGION, "--version", version, ok=False)
    assert missing.exit_code == 2 and "--approved-by" in missing.output


def test_governed_path_as_real_processes(settings, tmp_path):
    data = better_data(tmp_path)
    trained = run_kosprice(settings, "train", "--region", REGION, "--data", str(data),
                           "--model", "ridge")
    assert trained.returncode == 0, trained.stderr
    assert "verdict: better; implied bump: minor" in trained.stdout

    promoted = run_kosprice(settings, "promote", "--region", REGION, "--version", "v1.1.0",
                            "--approved-by", "Ana", "--reason", "lower MAE")
    assert promoted.returncode == 0, promoted.stderr
    validated = run_kosprice(settings, "validate")
    assert validated.returncode == 0 and f"ok   {REGION}: serving v1.1.0" in validated.stdout

    again = run_kosprice(settings, "promote", "--region", REGION, "--version", "v1.1.0",
                         "--approved-by", "Ana", "--reason", "twice")
    assert again.returncode == 1 and "already in production" in again.stderr

    rolled = run_kosprice(settings, "rollback", "--region", REGION, "--to", "v1.0.0",
                          "--approved-by", "Budi", "--reason", "regression")
    assert rolled.returncode == 0, rolled.stderr
    assert validate(settings.models_dir)[0] == []
    trail = run_kosprice(settings, "audit", "--json").stdout.splitlines()
    assert [json.loads(line)["action"] for line in trail] == ["promote", "rollback"]


def test_promote_and_rollback_recover_once(cli, tmp_path, monkeypatch):
    calls = []
    recover = Journal._recover
    monkeypatch.setattr(Journal, "_recover", lambda self: calls.append(1) or recover(self))
    version = cli.train(better_data(tmp_path))
    calls.clear()
    cli("promote", "--region", REGION, "--version", version, "--approved-by", "Ana",
        "--reason", "lower MAE")
    assert len(calls) == 1
    cli("rollback", "--region", REGION, "--approved-by", "Budi", "--reason", "regression")
    assert len(calls) == 2


def test_actions_return_what_their_recovery_did_and_refusals_still_say_it(
        cli, lifecycle, tmp_path):
    version = cli.train(better_data(tmp_path))
    stale = lifecycle.production.region_dir(REGION) / ".v1.1.0.promote-0f3a"
    said = f"removed {REGION}/{stale.name}, an unfinished promotion copy"

    stale.mkdir()  # what a promotion killed before its journal leaves behind
    refused = cli("rollback", "--region", REGION, "--approved-by", "Budi", "--reason", "r",
                  ok=False)
    assert refused.exit_code == 1 and not stale.exists()
    assert refused.stderr.splitlines() == [
        f"recovered: {said}",
        f"Error: refusing to roll back {REGION}: v1.0.0 is its only version in production"]

    stale.mkdir()
    result = lifecycle.promote(REGION, version, approved_by="Ana", reason="lower MAE")
    assert result.recovered == [said] and result.record["to_version"] == version
    assert lifecycle.recover() == []


def test_versions_marks_what_the_running_server_pinned(cli, settings, tmp_path):
    def reload() -> None:  # what the Gunicorn master does after validating, on start and HUP
        write_manifest(settings.state_dir / "serving.json", load_or_fail(settings.models_dir))

    reload()
    version = cli.train(better_data(tmp_path))
    cli("promote", "--region", REGION, "--version", version, "--approved-by", "Ana",
        "--reason", "lower MAE")
    listing = cli("versions", "--region", REGION).output
    assert "* = pinned by the running server" in listing
    assert f"production: *v1.0.0 {version}\n" in listing
    assert f"serving:    {version} is newest on disk: promoted, not yet reloaded" in listing

    reload()
    listing = cli("versions", "--region", REGION).output
    assert f"production: v1.0.0 *{version}\n" in listing and "serving:" not in listing

    cli("rollback", "--region", REGION, "--approved-by", "Budi", "--reason", "regression")
    listing = cli("versions", "--region", REGION).output
    assert "production: v1.0.0\n" in listing
    assert (f"serving:    {version} serves but is no longer in production: rolled back to "
            "v1.0.0, not yet reloaded") in listing

    (settings.state_dir / "serving.json").write_text("{")
    listing = cli("versions", "--region", REGION).output
    assert "unreadable serving manifest" in listing and "production: *v1.0.0" in listing
