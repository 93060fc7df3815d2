"""A real Prometheus scrapes a real multi-worker kosprice: counts are exact, queries answer,
and every metric the dashboard and the alert rules use exists."""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from kosprice.features import REGIONS
from tests.factories import LISTING
from tests.promql import (
    SYNTHETIC,
    dashboard_queries,
    grafana_to_promql,
    metric_names,
    sample_names,
)
from tests.servers import wait_until

pytestmark = pytest.mark.e2e

PREDICTIONS = 240
P95_PANEL = "/predict latency p50 / p90 / p95 / p95"


def predict(base_url: str, i: int) -> str:
    region = REGIONS[i % len(REGIONS)]
    response = requests.post(f"{base_url}/predict/{region}", json=LISTING, timeout=10)
    assert response.status_code == 200, response.text
    return region


def scalar(result: list[dict]) -> float:
    assert len(result) == 1, result
    return float(result[0]["value"][1])


@pytest.fixture(scope="module")
def traffic(kosprice, prometheus):
    """Send PREDICTIONS predictions from 6 threads over a few seconds of 1 s scrapes."""
    wait_until(lambda: prometheus.query('up{job="kosprice"} == 1'), timeout=30,
               what="the first scrape")
    with ThreadPoolExecutor(max_workers=6) as pool:
        for start in range(0, PREDICTIONS, 40):  # spread over several scrapes
            list(pool.map(lambda i: predict(kosprice.url, i), range(start, start + 40)))
            time.sleep(0.5)
    return PREDICTIONS


def test_several_workers_served_the_predictions(traffic, kosprice):
    metrics_dir = Path(kosprice.env["PROMETHEUS_MULTIPROC_DIR"])
    writers = {path.stem.rsplit("_", 1)[-1] for path in metrics_dir.glob("counter_*.db")}
    assert len(writers) >= 2, f"one worker served everything: {writers}"


def test_prometheus_counts_exactly_the_predictions_made(traffic, prometheus):
    expr = "sum(kosprice_predictions_total)"
    wait_until(lambda: prometheus.query(expr) and scalar(prometheus.query(expr)) == traffic,
               timeout=30, what=f"{expr} == {traffic}")
    time.sleep(2.5)  # two more scrapes, possibly answered by other workers: no jumps
    assert scalar(prometheus.query(expr)) == traffic
    by_region = {r["metric"]["region"]: float(r["value"][1]) for r in prometheus.query(
        "sum by (region) (kosprice_predictions_total)")}
    assert by_region == {region: traffic / len(REGIONS) for region in REGIONS}
    assert scalar(prometheus.query(
        'sum(flask_http_request_duration_seconds_count{path="/predict/<region>"})')) == traffic


def test_dashboard_p95_latency_query_returns_a_number(traffic, prometheus):
    expr = grafana_to_promql(dashboard_queries()[P95_PANEL], rate_interval="1m")

    def p95():
        result = prometheus.query(expr)
        return result and math.isfinite(scalar(result)) and scalar(result)

    seconds = wait_until(p95, timeout=30, what=f"a number from {expr}")
    assert 0 < seconds < 5


def test_prometheus_sees_the_drift_monitors_psi_whichever_worker_answers(traffic, kosprice,
                                                                        prometheus):
    """The gauge is computed at scrape time from the shared store: every worker agrees."""
    report = requests.get(f"{kosprice.url}/drift-monitor/yogyakarta", timeout=10).json()
    assert report["window"]["predictions"] == traffic / len(REGIONS)
    psi = report["features"]["jarak_ke_bca"]["psi"]
    assert psi > 0.25  # every prediction sent the same listing
    expr = 'kosprice_drift_psi{region="yogyakarta", feature="jarak_ke_bca"}'
    wait_until(lambda: prometheus.query(expr) and scalar(prometheus.query(expr)) == psi,
               timeout=30, what=f"{expr} == {psi}")
    time.sleep(2.5)  # more scrapes, possibly answered by other workers: the same value
    assert scalar(prometheus.query(expr)) == psi


def test_every_dashboard_query_is_accepted_by_prometheus(traffic, prometheus):
    answered = {key: prometheus.query(grafana_to_promql(expr))  # raises on a PromQL error
                for key, expr in dashboard_queries().items()}
    assert answered["Predictions in the last hour / predictions"]


def test_prometheus_loads_and_evaluates_every_alert_rule(traffic, prometheus):
    def evaluated():
        rules = [rule for group in prometheus.api("rules")["groups"] for rule in group["rules"]]
        return all(rule.get("lastEvaluation", "").startswith("20") for rule in rules) and rules

    rules = wait_until(evaluated, timeout=30, what="every rule evaluated")
    assert len(rules) >= 8
    assert {rule["health"] for rule in rules} == {"ok"}, [
        (rule["name"], rule.get("lastError")) for rule in rules if rule["health"] != "ok"]
    firing = [a["labels"]["alertname"] for a in prometheus.api("alerts")["alerts"]
              if a["state"] == "firing"]
    assert firing == []


def test_every_metric_the_dashboard_and_alerts_use_exists_in_a_live_scrape(
        prometheus, degraded_kosprice, traffic, kosprice):
    for i in range(8):  # predictions, anomalies (yogyakarta) and store errors
        predict(degraded_kosprice.url, i)
    # A listing 45 km out, beyond every training listing: a warning (outside_training_range).
    assert requests.post(f"{kosprice.url}/predict/yogyakarta", json={**LISTING, "jarak_ke_bca": 45},
                         timeout=10).status_code == 200
    exposed = set()
    for server in (kosprice, degraded_kosprice):
        response = requests.get(server.url + "/metrics", timeout=10)
        assert response.status_code == 200
        exposed |= sample_names(response.text)

    rules = [rule for group in prometheus.api("rules")["groups"] for rule in group["rules"]]
    used = {f"alert {rule['name']}": metric_names(rule["query"]) for rule in rules}
    used.update({f"dashboard {key}": metric_names(grafana_to_promql(expr))
                 for key, expr in dashboard_queries().items()})
    missing = {where: sorted(names - exposed - SYNTHETIC)
               for where, names in used.items() if names - exposed - SYNTHETIC}
    assert missing == {}
    assert {"kosprice_anomalies_total", "kosprice_prediction_warnings_total",
            "kosprice_monitor_store_errors_total",
            "kosprice_monitor_store_up", "kosprice_model_info", "kosprice_drift_psi"} <= exposed
