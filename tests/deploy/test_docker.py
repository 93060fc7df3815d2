"""The image definition: slim, non-root, locked, healthy, and no files served over HTTP."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import LISTING
from tests.promql import ROOT
from tests.servers import free_port, gunicorn

DOCKERFILE = (ROOT / "deploy" / "Dockerfile").read_text()


def instructions() -> list[tuple[str, str]]:
    """Return (INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    lines = [line.strip() for line in text.splitlines()]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1])
            for line in lines if line and not line.startswith("#")]


def dockerignored(path: str) -> bool:
    patterns = [p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines()
                if p.strip() and not p.startswith("#")]
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    # `**/x` matches x at any depth; fnmatch's `*` crosses `/`, which covers it.
    return any(fnmatch.fnmatch(prefix, pattern)
               or fnmatch.fnmatch(prefix, pattern.removeprefix("**/"))
               for pattern in patterns for prefix in prefixes)


def test_image_is_slim_python_311_pinned_to_a_patch_release_and_runs_as_a_non_root_user():
    steps = instructions()
    assert steps[0][0] == "FROM"
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", steps[0][1]), steps[0][1]
    users = [args for op, args in steps if op == "USER"]
    # Numeric, so Kubernetes' runAsNonRoot can check it; the user the image creates.
    assert users and re.fullmatch(r"[1-9]\d*:[1-9]\d*", users[-1]), users
    uid, gid = users[-1].split(":")
    assert f"--uid {uid}" in DOCKERFILE and f"--gid {gid}" in DOCKERFILE
    cmd_index = max(i for i, (op, _) in enumerate(steps) if op == "CMD")
    user_index = max(i for i, (op, _) in enumerate(steps) if op == "USER")
    assert user_index < cmd_index


def test_dependencies_come_from_the_lock_file_and_the_package_adds_none():
    runs = [args for op, args in instructions() if op == "RUN"]
    lock = next(i for i, r in enumerate(runs)
                if "pip install --no-deps -r requirements.lock" in r)
    package = next(i for i, r in enumerate(runs) if "pip install --no-deps ." in r)
    assert lock < package


def test_multiprocess_metrics_dir_and_bind_address_are_in_the_environment():
    env = " ".join(args for op, args in instructions() if op == "ENV")
    assert "PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus" in env
    assert "HOST=0.0.0.0" in env


def test_everything_copied_is_in_the_build_context():
    for op, args in instructions():
        if op != "COPY":
            continue
        sources = [s for s in args.split()[:-1] if not s.startswith("--")]
        for source in sources:
            if "[" in source:  # an optional file (README.m[d])
                continue
            assert (ROOT / source).exists(), source
            assert not dockerignored(source), f"{source} is excluded by .dockerignore"


@pytest.mark.parametrize("path", [".venv", ".git", "candidates", "archive", "logs", "state",
                                  "tests", "data/kos/jakarta_pusat.csv", ".env",
                                  "models/.lifecycle.lock", "models/.pending-yogyakarta.json",
                                  "models/yogyakarta/.v1.0.1.promote-1a2b/model.pkl",
                                  "models/yogyakarta/.v1.0.0.archiving",
                                  "deploy/k8s/base/deployment.yaml"])
def test_build_context_leaves_out_local_state_data_and_secrets(path):
    assert dockerignored(path)


SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|TOKEN|SECRET|SIGNING_KEY|API_KEY|PRIVATE)", re.I)
SECRET_FILE = re.compile(r"(^|/)(\.env(\..*)?|.*\.(pem|key|p12|pfx|crt)|id_(rsa|ed25519|ecdsa)"
                         r"|\.netrc|\.pypirc|credentials(\.json)?)$")


def test_no_secret_is_baked_into_the_image():
    """Secrets come from the runtime (compose .env, Kubernetes Secrets), never the image."""
    for op, args in instructions():
        if op in {"ENV", "ARG", "LABEL"}:
            names = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", args) or [args.split()[0]]
            assert not [n for n in names if SECRET_NAME.search(n)], (op, args)
        if op == "COPY":  # named sources only: never the whole context
            assert not {".", "./", "*"} & set(args.split()[:-1]), args
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    in_context = [path for path in tracked if not dockerignored(path)]
    assert "deploy/Dockerfile" in in_context
    assert not [path for path in in_context if SECRET_FILE.search(path)]
    # And one left in the working tree by mistake stays out of the context too.
    for path in (".env", ".env.production", "deploy/tls/server.key", "certs/ca.pem",
                 "id_rsa", "keys/id_ed25519"):
        assert SECRET_FILE.search(path) and dockerignored(path), path


@pytest.mark.parametrize("path", ["models/yogyakarta/v1.0.0/model.pkl",
                                  "models/yogyakarta/v1.0.0/metadata.json"])
def test_build_context_keeps_complete_model_versions(path):
    assert not dockerignored(path)


def healthcheck_command() -> list[str]:
    """The HEALTHCHECK's exec-form command (hadolint wants JSON notation)."""
    return json.loads(next(args for op, args in instructions()
                           if op == "HEALTHCHECK").split(" CMD ", 1)[1])


@pytest.mark.gunicorn
def test_healthcheck_passes_on_a_live_server_and_fails_without_one(pristine_models, tmp_path):
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"}
    command = healthcheck_command()
    assert "/health" in command[-1]
    with gunicorn(tmp_path, {"KOSPRICE_MODELS_DIR": str(pristine_models)}) as server:
        alive = subprocess.run(command, env={**env, "PORT": str(server.port)},
                               capture_output=True, timeout=30)
    assert alive.returncode == 0, alive.stderr
    dead = subprocess.run(command, env={**env, "PORT": str(free_port())},
                          capture_output=True, timeout=30)
    assert dead.returncode != 0


def test_the_app_serves_no_files(client, settings):
    app = client.application
    if app.static_folder:  # Flask's default static route: a folder inside the package only
        static = Path(app.static_folder).resolve()
        assert static.is_relative_to(Path(app.root_path).resolve())
        assert not static.exists(), "kosprice/static/ would be served as files"
        for served in (settings.models_dir, settings.log_dir, settings.state_dir,
                       settings.candidates_dir):
            assert not Path(served).resolve().is_relative_to(static)
    for path in ("/static/model.pkl", "/models/yogyakarta/v1.0.0/model.pkl",
                 "/models/yogyakarta/v1.0.0/metadata.json", "/logs/kosprice.log",
                 "/candidates/yogyakarta", "/state/monitor.sqlite3", "/models/../logs"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.is_json, path
    assert client.post("/predict/yogyakarta", json=LISTING).status_code == 200
