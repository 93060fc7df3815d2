"""kill -9 at every step of promote and rollback: models/ always validates, and the next
command completes the interrupted action with exactly one audit record."""

from __future__ import annotations

import signal
import subprocess

import pytest

from kosprice.ml.journal import PAUSE_ENV, PAUSE_MARKER
from kosprice.ml.repository import validate
from tests.factories import train_version
from tests.lifecycle.conftest import REGION, better_data, make_reload, production_like, run_kosprice


def kill_at(settings, step: str, *args: str) -> None:
    """Run `kosprice *args` until it pauses at `step`, then kill -9 it."""
    process = run_kosprice(settings, *args, extra_env={PAUSE_ENV: step},
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        for line in process.stderr:
            lines.append(line)
            if PAUSE_MARKER in line:
                break
        else:
            pytest.fail(f"never paused at {step}: {''.join(lines)}")
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait(30)
    assert process.returncode == -signal.SIGKILL


def serving(lifecycle) -> str:
    return str(lifecycle.production.serving_version(REGION))


@pytest.mark.parametrize("step, completes", [
    ("copied", False), ("journaled", True), ("renamed", True), ("audited", True)])
def test_promote_killed_at_each_step(cli, lifecycle, settings, tmp_path, step, completes):
    version = cli.train(better_data(tmp_path))
    kill_at(settings, step, "promote", "--region", REGION, "--version", version,
            "--approved-by", "Ana", "--reason", "lower MAE")
    assert validate(settings.models_dir)[0] == []

    lifecycle.recover()  # what `make reload` and the next promote or rollback do first
    assert validate(settings.models_dir)[0] == []
    assert serving(lifecycle) == (version if completes else "v1.0.0")
    trail = lifecycle.history(REGION)
    assert [r["to_version"] for r in trail] == ([version] if completes else [])
    assert not [p for p in (settings.models_dir / REGION).iterdir() if p.name.startswith(".")]
    assert lifecycle.pending() == []


@pytest.mark.parametrize("step", ["journaled", "hidden", "archived", "audited"])
def test_rollback_killed_at_each_step(lifecycle, settings, tmp_path, step):
    data = production_like(tmp_path)
    for version in ("v1.1.0", "v1.2.0"):
        train_version(settings.models_dir, REGION, data, version)
    kill_at(settings, step, "rollback", "--region", REGION, "--to", "v1.0.0",
            "--approved-by", "Budi", "--reason", "regression")
    problems, models = validate(settings.models_dir)
    assert problems == [] and str(models[REGION].version) in {"v1.0.0", "v1.1.0", "v1.2.0"}

    # The journal was written first, so the rollback is rolled forward: nothing is lost.
    result = run_kosprice(settings, "rollback", "--region", "jakarta_pusat",
                          "--approved-by", "x", "--reason", "y")
    assert "recovered: completed the interrupted rollback" in result.stderr
    assert validate(settings.models_dir)[0] == []
    assert serving(lifecycle) == "v1.0.0"
    assert [str(v) for v in lifecycle.archive.versions(REGION)] == ["v1.1.0", "v1.2.0"]
    assert [r["action"] for r in lifecycle.history()] == ["rollback"]
    assert not [p for p in (settings.models_dir / REGION).iterdir() if p.name.startswith(".")]


def test_kosprice_recover_completes_an_interrupted_promote(cli, lifecycle, settings, tmp_path):
    version = cli.train(better_data(tmp_path))
    kill_at(settings, "journaled", "promote", "--region", REGION, "--version", version,
            "--approved-by", "Ana", "--reason", "lower MAE")
    assert "run `kosprice recover`" in cli("versions").output

    recovered = cli("recover").output
    assert (f"recovered: completed the interrupted promote of {REGION} to {version} "
            "(approved by Ana)") in recovered
    assert serving(lifecycle) == version and lifecycle.pending() == []
    assert [r["to_version"] for r in lifecycle.history()] == [version]
    assert "nothing to recover" in cli("recover").output


def test_make_reload_recovers_before_validating(cli, lifecycle, settings, tmp_path):
    version = cli.train(better_data(tmp_path))
    kill_at(settings, "renamed", "promote", "--region", REGION, "--version", version,
            "--approved-by", "Ana", "--reason", "lower MAE")
    result = make_reload(settings)  # no server runs: it stops after recover and validate
    assert result.returncode != 0 and "no Gunicorn pidfile" in result.stderr
    assert f"completed the interrupted promote of {REGION} to {version}" in result.stderr
    assert lifecycle.pending() == [] and [r["to_version"] for r in lifecycle.history()] == [
        version]
