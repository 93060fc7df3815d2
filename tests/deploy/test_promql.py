"""The PromQL reader that the metric-name checks rely on."""

import pytest

from tests.promql import dashboard_queries, grafana_to_promql, metric_names, sample_names


@pytest.mark.parametrize("expr, names", [
    ("up", {"up"}),
    ('sum(rate(flask_http_request_total{status=~"5.."}[5m]))'
     ' / sum(rate(flask_http_request_total[5m])) > 0.05',
     {"flask_http_request_total"}),
    ('histogram_quantile(0.95, sum by (le) '
     '(rate(x_seconds_bucket{path=~"/predict/.*"}[$__rate_interval])))',
     {"x_seconds_bucket"}),
    ("count by (region) (a offset 30m) unless count by (region) (b)", {"a", "b"}),
    ('sum by (region, kind) (rate(c[1m])) / on (region) group_left sum by (region) (rate(d[1m]))',
     {"c", "d"}),
    ("absent(m) and on() (count(up{job=\"k\"} == 1) > 0)", {"m", "up"}),
    ("sum(rate(e[5m])) by (job) > 1e3", {"e"}),
    ('f{label="sum(g)"}', {"f"}),
])
def test_metric_names_are_read_out_of_expressions(expr, names):
    assert metric_names(expr) == names


def test_every_dashboard_query_names_a_metric():
    queries = dashboard_queries()
    assert len(queries) >= 12
    for key, expr in queries.items():
        assert metric_names(grafana_to_promql(expr)), key
        assert "$" not in grafana_to_promql(expr), key


def test_sample_names_come_from_sample_lines_only():
    page = ("# HELP a_total help\n# TYPE a_total counter\na_total{x=\"1\"} 3.0\n"
            "b_bucket{le=\"+Inf\"} 1.0\nc 2\n")
    assert sample_names(page) == {"a_total", "b_bucket", "c"}
