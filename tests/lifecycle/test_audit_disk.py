"""Drill: the audit log's disk full or read-only. Promote fails cleanly; nothing is half-written.

`kosprice promote` runs as a real process in a private mount namespace (`unshare`), where
the audit log's directory is a tiny tmpfs that is full or mounted read-only; models/ stays
on the real disk, so what the refused promotion left behind can be inspected afterwards.
"""

from __future__ import annotations

import os
import shlex
import subprocess

import pytest

from tests.conftest import IN_CI
from tests.lifecycle.conftest import REGION, better_data, kosprice_env
from tests.servers import BIN, ROOT, require_binary

MOUNTS = {
    "full": "mount -t tmpfs -o size=16k tmpfs {dir} && "
            "(dd if=/dev/zero of={dir}/filler bs=1k count=64 2>/dev/null; true)",
    "read-only": "mount -t tmpfs -o ro,size=16k tmpfs {dir}",
}


def private_mounts_work() -> bool:
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs tmpfs /mnt"],
                           capture_output=True)
    return probe.returncode == 0


@pytest.mark.parametrize("disk", sorted(MOUNTS))
def test_promote_refuses_cleanly_when_the_audit_log_cannot_be_written(cli, settings, tmp_path,
                                                                       disk):
    require_binary("unshare", "util-linux")
    if not private_mounts_work():
        message = "no private mount namespaces here (unshare -rm)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    version = cli.train(better_data(tmp_path))
    audit_dir = tmp_path / "audit-disk"
    audit_dir.mkdir()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("KOSPRICE_")},
           **kosprice_env(settings), "KOSPRICE_AUDIT_LOG": str(audit_dir / "audit.jsonl")}
    promote = shlex.join([str(BIN / "kosprice"), "promote", "--region", REGION, "--version",
                          version, "--approved-by", "Ana", "--reason", "disk drill"])
    script = MOUNTS[disk].format(dir=shlex.quote(str(audit_dir))) + f" && exec {promote}"
    before = sorted(p.name for p in (settings.models_dir / REGION).iterdir())

    refused = subprocess.run(["unshare", "-rm", "sh", "-c", script], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)

    assert refused.returncode == 1, refused.stdout + refused.stderr
    error = refused.stderr.strip().splitlines()
    assert error[-1].startswith("Error: the audit log") and "nothing was changed" in error[-1]
    assert "Traceback" not in refused.stderr
    # Nothing half-written: production as it was (no version, no staging folder), no journal
    # to recover, and the candidate still there to promote once the disk is fixed.
    assert sorted(p.name for p in (settings.models_dir / REGION).iterdir()) == before
    assert list(settings.models_dir.glob(".pending-*")) == []
    assert "nothing to recover" in cli("recover").output
    promoted = cli("promote", "--region", REGION, "--version", version, "--approved-by", "Ana",
                   "--reason", "disk fixed")
    assert f"-> {version}" in promoted.output
