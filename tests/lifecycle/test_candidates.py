"""`kosprice candidates`: list candidates; `--prune` removes old ones, audited, under the lock."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess

import pytest

from tests.conftest import IN_CI
from tests.factories import edit_metadata
from tests.lifecycle.conftest import REGION, better_data, kosprice_env
from tests.lifecycle.test_audit_disk import MOUNTS, private_mounts_work
from tests.servers import BIN, ROOT, require_binary


def four_candidates(cli, settings, tmp_path) -> list[str]:
    """One trained candidate and three copies under newer version numbers, oldest first."""
    trained = cli.train(better_data(tmp_path))
    major = int(trained[1:].split(".")[0])
    versions = [trained] + [f"v{major + n}.0.0" for n in (1, 2, 3)]
    for version in versions[1:]:
        target = settings.candidates_dir / REGION / version
        shutil.copytree(settings.candidates_dir / REGION / trained, target)
        edit_metadata(target, model_version=version)
    return versions


def on_disk(settings) -> list[str]:
    return sorted((p.name for p in (settings.candidates_dir / REGION).iterdir()),
                  key=lambda name: tuple(int(n) for n in name[1:].split(".")))


def test_lists_pruned_and_audits(cli, settings, tmp_path):
    versions = four_candidates(cli, settings, tmp_path)
    cli("compare", "--region", REGION, "--candidate", versions[-1])
    metadata = json.loads((settings.candidates_dir / REGION / versions[0] / "metadata.json")
                          .read_text(encoding="utf-8"))

    listed = cli("candidates", "--region", REGION).output.splitlines()
    assert listed[0] == REGION and len(listed) == 5
    rows = {line.split()[0]: line for line in listed[1:]}
    assert list(rows) == versions
    assert metadata["model_type"] in rows[versions[0]]
    assert metadata["trained_at"] in rows[versions[0]]
    assert f"MAE {metadata['metrics']['mae']:,.0f}" in " ".join(rows[versions[0]].split())
    assert rows[versions[0]].endswith("report: no") and rows[versions[-1]].endswith("report: yes")
    everywhere = cli("candidates").output
    assert all(region in everywhere for region in ("jakarta_pusat", "yogyakarta"))

    refused = cli("candidates", "--prune", "--keep", "2", ok=False)
    assert refused.exit_code == 1 and "needs --approved-by and a --reason" in refused.output
    assert "Traceback" not in refused.output and on_disk(settings) == versions

    pruned = cli("candidates", "--prune", "--keep", "2", "--approved-by", "Ana",
                 "--reason", "tidy up").output
    assert f"removed {versions[0]}, {versions[1]}; kept {versions[2]}, {versions[3]}" in pruned
    assert on_disk(settings) == versions[2:]
    record = json.loads(settings.audit_log.read_text(encoding="utf-8").splitlines()[-1])
    assert record["action"] == "prune" and record["region"] == REGION
    assert record["removed"] == versions[:2] and record["approved_by"] == "Ana"
    assert f"removed candidates {versions[0]}, {versions[1]}" in cli("audit").output

    again = cli("candidates", "--prune", "--approved-by", "Ana", "--reason", "tidy up").output
    assert "nothing to prune" in again and on_disk(settings) == versions[2:]


def test_prune_refuses_cleanly_when_the_audit_log_cannot_be_written(cli, settings, tmp_path):
    require_binary("unshare", "util-linux")
    if not private_mounts_work():
        if IN_CI:
            pytest.fail("no private mount namespaces here (unshare -rm)")
        pytest.skip("no private mount namespaces here (unshare -rm)")
    versions = four_candidates(cli, settings, tmp_path)
    audit_dir = tmp_path / "audit-disk"
    audit_dir.mkdir()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("KOSPRICE_")},
           **kosprice_env(settings), "KOSPRICE_AUDIT_LOG": str(audit_dir / "audit.jsonl")}
    prune = shlex.join([str(BIN / "kosprice"), "candidates", "--prune", "--keep", "1",
                        "--approved-by", "Ana", "--reason", "disk drill"])
    script = MOUNTS["full"].format(dir=shlex.quote(str(audit_dir))) + f" && exec {prune}"
    refused = subprocess.run(["unshare", "-rm", "sh", "-c", script], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert refused.stderr.strip().splitlines()[-1].startswith("Error: the audit log")
    assert on_disk(settings) == versions
