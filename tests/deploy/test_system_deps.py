"""deploy/system-deps.sh venv: what `make install` runs before it creates the virtualenv."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.promql import ROOT

SCRIPT = ROOT / "deploy" / "system-deps.sh"
BASH = "/bin/bash"


def fake_bin(tmp_path: Path, with_apt_get: bool) -> Path:
    """A PATH holding only a python3 without ensurepip until (fake) apt-get installs it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    installed = tmp_path / "python3-venv-installed"
    python = bin_dir / "python3"
    python.write_text(f'#!/bin/sh\n[ -e "{installed}" ]\n')
    python.chmod(0o755)
    if with_apt_get:
        apt_get = bin_dir / "apt-get"
        apt_get.write_text(f'#!/bin/sh\necho "$@" >> "{tmp_path / "apt-get.log"}"\n'
                           f'case "$1" in install) : > "{installed}";; esac\n')
        apt_get.chmod(0o755)
    return bin_dir


def run(bin_dir: Path, python: str = "python3") -> subprocess.CompletedProcess:
    return subprocess.run([BASH, str(SCRIPT), "venv"], capture_output=True, text=True,
                          timeout=30, env={"PATH": str(bin_dir), "PYTHON": python})


def test_nothing_is_installed_when_venv_and_ensurepip_work(tmp_path):
    bin_dir = fake_bin(tmp_path, with_apt_get=True)
    result = run(bin_dir, python=sys.executable)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "apt-get.log").exists()


def test_without_apt_get_or_root_it_stops_and_names_the_package(tmp_path):
    result = run(fake_bin(tmp_path, with_apt_get=False))
    assert result.returncode != 0
    assert "python3-venv" in result.stderr and "ensurepip" in result.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="apt-get runs only as root")
def test_as_root_it_installs_python3_venv_with_apt_get(tmp_path):
    result = run(fake_bin(tmp_path, with_apt_get=True))
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "apt-get.log").read_text().splitlines()
    assert calls[0].split()[0] == "update"
    assert calls[-1].split()[0] == "install" and calls[-1].split()[-1] == "python3-venv"


def test_make_install_checks_before_it_creates_the_virtualenv():
    recipe = subprocess.run(["make", "-n", "-B", "install", "VENV=/nonexistent-venv"], cwd=ROOT,
                            capture_output=True, text=True, timeout=30).stdout.splitlines()
    check = next(i for i, line in enumerate(recipe) if "system-deps.sh venv" in line)
    create = next(i for i, line in enumerate(recipe) if " -m venv " in line)
    assert check < create
