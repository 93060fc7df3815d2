"""docker-compose.yml parses offline (no engine needed) and wires the stack as documented."""

import json
import subprocess

from tests.promql import ROOT
from tests.servers import require_binary


def compose(*args: str) -> subprocess.CompletedProcess:
    binary = require_binary("docker-compose", "docker-compose")
    return subprocess.run([binary, "-f", "docker-compose.yml", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_compose_file_is_valid():
    result = compose("config", "-q")
    assert result.returncode == 0, result.stderr


def test_compose_stack_wires_api_redis_prometheus_and_grafana():
    result = compose("config", "--services")
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == {"api", "redis", "prometheus", "grafana"}
    resolved = compose("config").stdout
    for needle in ("KOSPRICE_REDIS_URL: redis://redis:6379/0", "condition: service_healthy",
                   "deploy/Dockerfile", "deploy/prometheus/alerts.yml",
                   "deploy/grafana/provisioning", "deploy/grafana/dashboards",
                   "/tmp/prometheus", "models:/app/models:ro", "--appendonly"):
        assert needle in resolved, needle


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
