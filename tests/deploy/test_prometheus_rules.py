"""The alert rules and Prometheus config, checked by Prometheus' own promtool."""

import re
import subprocess

from tests.promql import ROOT, dashboard_queries
from tests.servers import require_binary

PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"


def promtool(*args: str) -> subprocess.CompletedProcess:
    binary = require_binary("promtool", "prometheus")
    return subprocess.run([binary, *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_alert_rules_pass_promtool_check():
    result = promtool("check", "rules", str(PROMETHEUS_DIR / "alerts.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_alert_rules_fire_as_their_unit_tests_expect():
    result = promtool("test", "rules", str(PROMETHEUS_DIR / "alerts.test.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_config_is_valid_and_loads_the_rules():
    result = promtool("check", "config", str(PROMETHEUS_DIR / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout


def request_ratio_selectors(text: str) -> list[str]:
    """The selectors of every request counter that an error ratio could be built from."""
    return re.findall(r"flask_http_request_(?:total|duration_seconds_count)(?:\{[^}]*\})?", text)


def test_request_ratios_leave_out_prometheus_scrapes():
    alerts = "\n".join(line for line in (PROMETHEUS_DIR / "alerts.yml").read_text().splitlines()
                       if not line.lstrip().startswith("#"))
    dashboard = "\n".join(dashboard_queries().values())
    for source, text in [("alerts.yml", alerts), ("dashboard", dashboard)]:
        selectors = request_ratio_selectors(text)
        assert selectors, source
        for selector in selectors:
            assert selector.startswith("flask_http_request_duration_seconds_count{"), selector
            assert 'path!="/metrics"' in selector, (source, selector)
