"""The tables `make bench` prints: medians, ratios from the same run, and the targets."""

from __future__ import annotations

import math
import os
import platform
import statistics

TARGETS = ("targets: kosprice >= 50% of framework; tree ensembles >= 5x floor (aim 10x) "
           "with p99 <= 1/5 of floor's; monitoring+logging <= 10% of request time")


def machine() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle
                        if line.startswith("model name")), platform.processor())
    except OSError:
        cpu = platform.processor()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"machine: {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
            f"load average {load}")


def _ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, NaN when a server answered nothing (a very short run)."""
    return numerator / denominator if denominator else math.nan


def _median(rounds, field):
    return statistics.median(getattr(r, field) for r in rounds)


def http_table(results: dict) -> str:
    """Per region and server: median req/s, p50, p99 (ms); then the ratios."""
    lines = [f"\n{'region':<16}{'server':<11}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"]
    ratios = [f"\n{'region':<16}{'vs framework':>13}{'vs floor':>10}{'p99/floor p99':>15}"
              f"{'monitoring+logging':>20}"]
    for region, servers in results.items():
        med = {name: {f: _median(rounds, f) for f in ("requests_per_s", "p50_ms", "p99_ms")}
               for name, rounds in servers.items()}
        for name, rounds in servers.items():
            m = med[name]
            lines.append(f"{region:<16}{name:<11}{m['requests_per_s']:>9.0f}{m['p50_ms']:>9.2f}"
                         f"{m['p99_ms']:>9.2f}{sum(r.errors for r in rounds):>8}")
        ours, quiet = med["kosprice"]["requests_per_s"], med["quiet"]["requests_per_s"]
        cost = 1 - _ratio(ours, quiet)  # share of a request's time on monitoring and logging
        ratios.append(
            f"{region:<16}{_ratio(ours, med['framework']['requests_per_s']):>12.0%} "
            f"{_ratio(ours, med['floor']['requests_per_s']):>9.1f}x"
            f"{_ratio(med['kosprice']['p99_ms'], med['floor']['p99_ms']):>15.2f}{cost:>20.1%}")
    return "\n".join(lines + ratios + [TARGETS])


def rss_table(rss: dict[str, list[float]]) -> str:
    lines = ["\nresident memory per worker (MiB)"]
    for name, sizes in rss.items():
        lines.append(f"  {name:<11}" + "  ".join(f"{s:.0f}" for s in sizes))
    return "\n".join(lines)


def batch_table(rates: dict[str, float]) -> str:
    lines = ["\nPOST /predict/{region}/batch, 1,000 listings: predictions/s (target >= 20,000)"]
    lines += [f"  {region:<16}{rate:>10,.0f}" for region, rate in rates.items()]
    return "\n".join(lines)


STAGES = [("validate", "validate"), ("encode", "encode"), ("model", "model_call"),
          ("predictor", "predict_fast"), ("sklearn", "floor_sklearn"),
          ("monitor", "monitor_record"), ("log", "log_line"), ("POST", "http_in_process")]


def stage_table(rows: list[dict]) -> str:
    header = "".join(f"{title:>11}" for title, _ in STAGES)
    lines = ["\nin-process stages, µs per call (predictor = encode + model; sklearn = the "
             "Pipeline on a one-row DataFrame; POST = Flask test client, whole request)",
             f"{'region':<16}{header}{'x sklearn':>10}"]
    for row in rows:
        cells = "".join(f"{row[key]:>11.1f}" if key in row else f"{'-':>11}"
                        for _, key in STAGES)
        lines.append(f"{row['region']:<16}{cells}"
                     f"{row['floor_sklearn'] / row['predict_fast']:>9.1f}x"
                     + (f"  ({row['store_failures']:,.0f} store calls failed or skipped: "
                        "monitor and POST understated)" if row.get("store_failures") else ""))
    lines.append(f"\n{'region':<16}{'engine':>8}{'build ms':>10}{'batch pred/s':>14}"
                 f"{'batch validate/s':>18}{'batch POST pred/s':>19}")
    for row in rows:
        lines.append(f"{row['region']:<16}{row['engine']:>8}{row['build_ms']:>10.0f}"
                     f"{row['batch_predictions_per_s']:>14,.0f}"
                     f"{row['batch_validate_per_s']:>18,.0f}"
                     f"{row.get('batch_post_per_s', 0):>19,.0f}")
    return "\n".join(lines)
