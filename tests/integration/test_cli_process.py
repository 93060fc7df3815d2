"""The installed `kosprice validate` console script, as an operator runs it."""

from __future__ import annotations

import os
import subprocess

from kosprice.ml.artifact import METADATA_FILE
from tests.factories import edit_metadata
from tests.servers import BIN, ROOT


def run_validate(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOSPRICE_")}
    return subprocess.run([str(BIN / "kosprice"), "validate", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_validate_exit_codes_and_every_problem(models_dir):
    clean = run_validate("--models-dir", str(models_dir))
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout.count("ok   ") == 4

    edit_metadata(models_dir / "yogyakarta" / "v1.0.0", model_version="v1.0.1")
    edit_metadata(models_dir / "jakarta_selatan" / "v1.0.0", sklearn_version="1.0.0")
    broken = run_validate("--models-dir", str(models_dir))
    assert broken.returncode == 1
    assert (f"FAIL {models_dir / 'yogyakarta' / 'v1.0.0' / METADATA_FILE}: model_version "
            "'v1.0.1' does not match the folder 'v1.0.0'") in broken.stderr
    assert (f"FAIL {models_dir / 'jakarta_selatan' / 'v1.0.0' / METADATA_FILE}: trained with "
            "scikit-learn 1.0.0") in broken.stderr
    assert "2 problem(s) found" in broken.stderr
    assert "Traceback" not in broken.stderr
