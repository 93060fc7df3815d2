"""Read metric names out of PromQL, and sample names out of a /metrics scrape."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "kosprice.json"

# Series Prometheus makes itself for every target: no /metrics carries them.
SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
             "and", "or", "unless", "inf", "nan", "atan2"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.$])[A-Za-z_:][A-Za-z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    """Return the metric names an expression selects (functions, keywords, labels left out)."""
    expr = _STRING.sub('""', expr)
    expr = re.sub(r"\{[^}]*\}", " ", expr)   # label matchers
    expr = re.sub(r"\[[^\]]*\]", " ", expr)  # range and subquery durations
    expr = _LABEL_LIST.sub(" ", expr)        # by (...), on (...) and friends
    names = set()
    for match in _IDENTIFIER.finditer(expr):
        name = match.group()
        if name.lower() in _KEYWORDS or expr[match.end():].lstrip().startswith("("):
            continue  # a keyword or a function call
        names.add(name)
    return names


def dashboard_queries(path: Path = DASHBOARD) -> dict[str, str]:
    """Return every PromQL expression of the dashboard, keyed 'panel title / legend'."""
    dashboard = json.loads(path.read_text())
    queries = {}
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            key = f"{panel['title']} / {target.get('legendFormat') or target['refId']}"
            queries[key] = target["expr"]
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        match = re.fullmatch(r"label_values\((.+),\s*\w+\)", query or "")
        if match:
            queries[f"variable {variable['name']}"] = match.group(1)
    return queries


def grafana_to_promql(expr: str, rate_interval: str = "30s") -> str:
    """Substitute the dashboard's Grafana variables the way Grafana would (all regions)."""
    return expr.replace("$__rate_interval", rate_interval).replace("$region", ".*")


def sample_names(exposition: str) -> set[str]:
    """Return the names of the samples in a text-format /metrics page."""
    names = set()
    for line in exposition.splitlines():
        if line and not line.startswith("#"):
            names.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    return names
