"""docker-compose.yml parses offline (no engine needed) and wires the stack as documented."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile

import pytest

from kosprice.settings import Settings
from tests.promql import ROOT
from tests.servers import require_binary

PASSWORD = "test-only-password"


def compose(*args: str, env: dict[str, str] | None = None,
            password: str | None = PASSWORD) -> subprocess.CompletedProcess:
    """Run docker-compose on the shipped file, isolated from the caller's shell and .env."""
    binary = require_binary("docker-compose", "docker-compose")
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith("KOSPRICE_") and k != "GRAFANA_ADMIN_PASSWORD"}
    if password is not None:
        environ["GRAFANA_ADMIN_PASSWORD"] = password
    with tempfile.NamedTemporaryFile(suffix=".env") as empty_env_file:  # not ROOT/.env
        return subprocess.run(
            [binary, "-f", "docker-compose.yml", "--env-file", empty_env_file.name, *args],
            cwd=ROOT, capture_output=True, text=True, timeout=60, env={**environ, **(env or {})})


def resolved(env: dict[str, str] | None = None) -> str:
    result = compose("config", env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def service_block(config: str, service: str) -> str:
    """The lines of one service in `docker-compose config` output."""
    match = re.search(rf"^  {service}:\n((?:    .*\n|  - .*\n)+)", config, re.MULTILINE)
    assert match, service
    return match.group(1)


def environment(config: str, service: str) -> dict[str, str]:
    block = service_block(config, service)
    lines = re.search(r"^    environment:\n((?:      .*\n)+)", block, re.MULTILINE).group(1)
    env = {}
    for line in lines.splitlines():
        key, value = line.strip().split(": ", 1) if ": " in line else (line.strip()[:-1], "")
        if value[:1] == "'":
            value = value[1:-1].replace("''", "'")
        elif value[:1] == '"':
            value = json.loads(value)
        env[key] = value
    return env


def test_compose_file_is_valid():
    result = compose("config", "-q")
    assert result.returncode == 0, result.stderr


def test_compose_stack_wires_api_redis_prometheus_and_grafana():
    result = compose("config", "--services")
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == {"api", "proxy", "redis", "prometheus", "grafana"}
    config = resolved()
    for needle in ("KOSPRICE_REDIS_URL: redis://redis:6379/0", "condition: service_healthy",
                   "deploy/Dockerfile", "deploy/prometheus/alerts.yml",
                   "deploy/grafana/provisioning", "deploy/grafana/dashboards",
                   "/tmp/prometheus", "models:/app/models:ro", "--appendonly"):
        assert needle in config, needle


def test_grafana_admin_password_is_required():
    result = compose("config", "-q", password=None)
    assert result.returncode != 0
    assert "set GRAFANA_ADMIN_PASSWORD" in result.stderr
    assert environment(resolved(), "grafana")["GF_SECURITY_ADMIN_PASSWORD"] == PASSWORD


def test_published_ports_bind_to_localhost_only():
    config = resolved()
    published = re.findall(r"^    - (\S+:\d+/tcp)$", config, re.MULTILINE)
    assert len(published) == 3, published  # the proxy (the API's only way in), Prometheus, Grafana
    for port in published:
        assert port.startswith("127.0.0.1:"), port


def test_prometheus_lifecycle_api_is_off():
    assert "--web.enable-lifecycle" not in service_block(resolved(), "prometheus")


def test_api_gets_graceful_timeout_before_sigkill():
    gunicorn_conf = (ROOT / "deploy" / "gunicorn.conf.py").read_text()
    graceful = int(re.search(r"^graceful_timeout = (\d+)", gunicorn_conf, re.MULTILINE).group(1))
    grace = re.search(r"^    stop_grace_period: (\d+)s$", service_block(resolved(), "api"),
                      re.MULTILINE)
    assert grace and int(grace.group(1)) > graceful


def test_api_environment_defaults_are_valid_settings():
    env = environment(resolved(), "api")
    assert env["KOSPRICE_REDIS_URL"] == "redis://redis:6379/0"
    assert {"KOSPRICE_WORKERS", "KOSPRICE_LOG_LEVEL", "KOSPRICE_PRICE_LIMITS"} <= set(env)
    settings = Settings.from_env(env)
    assert settings.workers == 0 and settings.price_limits == {}
    assert settings.redis_url == "redis://redis:6379/0"
    # The stack limits each client (off in development), and trusts its one nginx for
    # X-Forwarded-For.
    assert settings.rate_limit == "120/minute" and settings.trusted_proxies == 1
    assert settings.ops_token is None and settings.cors_origins == ()


@pytest.mark.parametrize("name, value", [
    ("KOSPRICE_WORKERS", "3"),
    ("KOSPRICE_LOG_LEVEL", "DEBUG"),
    ("KOSPRICE_PRICE_LIMITS", '{"yogyakarta": [200000, 9000000]}'),
])
def test_settings_from_the_shell_or_env_file_reach_the_api_container(name, value):
    env = environment(resolved({name: value}), "api")
    assert env[name] == value
    Settings.from_env(env)


def test_the_stack_redis_is_not_replaced_by_a_host_side_url():
    env = environment(resolved({"KOSPRICE_REDIS_URL": "redis://127.0.0.1:6379/0"}), "api")
    assert env["KOSPRICE_REDIS_URL"] == "redis://redis:6379/0"


def test_grafana_provisioning_points_at_the_mounted_dashboards():
    compose_file = (ROOT / "docker-compose.yml").read_text()
    provider = (ROOT / "deploy/grafana/provisioning/dashboards/kosprice.yml").read_text()
    datasource = (ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text()
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/kosprice.json").read_text())
    assert "./deploy/grafana/dashboards:/etc/grafana/dashboards:ro" in compose_file
    assert "path: /etc/grafana/dashboards" in provider
    assert "uid: prometheus" in datasource and "url: http://prometheus:9090" in datasource
    uids = {target["datasource"]["uid"] for panel in dashboard["panels"]
            for target in panel.get("targets", [])}
    assert uids == {"prometheus"}


def test_clients_reach_the_api_only_through_the_buffering_proxy():
    config = resolved()
    api, proxy = service_block(config, "api"), service_block(config, "proxy")
    assert "published" not in api and not re.search(r"^    - \S+:\d+/tcp$", api, re.MULTILINE)
    assert re.search(r"^    - 127\.0\.0\.1:8000:8080/tcp$", proxy, re.MULTILINE)
    assert "deploy/nginx/nginx.conf:/etc/nginx/nginx.conf:ro" in proxy
    nginx = (ROOT / "deploy" / "nginx" / "nginx.conf").read_text()
    for directive in ("server api:8000;", "proxy_request_buffering on;", "proxy_buffering on;",
                      "client_body_timeout 10s;", "client_header_timeout 10s;",
                      'proxy_set_header Connection "";', "proxy_http_version 1.1;"):
        assert directive in nginx, directive
    # nginx must give up on an idle upstream connection before Gunicorn closes it.
    gunicorn_conf = (ROOT / "deploy" / "gunicorn.conf.py").read_text()
    keepalive = int(re.search(r"^keepalive = (\d+)", gunicorn_conf, re.MULTILINE).group(1))
    upstream = int(re.search(r"keepalive_timeout (\d+)s;", nginx).group(1))
    assert upstream < keepalive
