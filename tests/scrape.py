"""Reading a Prometheus text scrape in tests."""

from __future__ import annotations

import re


def metric_total(text: str, name: str, **labels: str) -> float:
    """Sum a metric's samples whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{name}(?:\{{(.*)\}})? (\S+)$", line)
        if match and all(f'{k}="{v}"' in (match.group(1) or "") for k, v in labels.items()):
            total += float(match.group(2))
    return total
