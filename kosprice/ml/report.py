"""The comparison report written next to a candidate: two plots and a Markdown table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from kosprice.ml.comparison import Comparison, Evaluation

REPORT_DIR = "report"
COLOURS = ("tab:blue", "tab:orange")
"""Candidate, then production."""


def _money(value: float) -> str:
    return f"{value:,.0f}"


def _params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items()) if v is not None)


def comparison_table(c: Comparison) -> list[str]:
    """The side-by-side table, as Markdown lines."""
    p = c.production
    head = ["", f"candidate {c.candidate.version}",
            f"production {p.version}" if p else "production"]
    rows = [["model type", c.candidate.model_type, p.model_type if p else "-"]]
    for key, label, fmt in (("mae", "MAE (Rp)", _money), ("rmse", "RMSE (Rp)", _money),
                            ("r2", "R²", "{:.4f}".format), ("mape", "MAPE", "{:.2%}".format)):
        rows.append([label, fmt(c.candidate.metrics[key]), fmt(p.metrics[key]) if p else "-"])
    rows.append(["features", ", ".join(c.candidate.features),
                 ", ".join(p.features) if p else "-"])
    if p is not None and p.model_type != c.candidate.model_type:
        rows.append(["params", _params(c.candidate.params), _params(p.params)])
    else:
        for name, (old, new) in c.param_changes().items():
            rows.append([f"param `{name}`", str(new), str(old)])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _plot(path: Path, comparison: Comparison, size: tuple[float, float], title: str,
          xlabel: str, ylabel: str, x: Callable[[Evaluation], np.ndarray],
          y: Callable[[Evaluation], np.ndarray], guide: Callable[[Any], None]) -> Path:
    """Scatter candidate and production (when scored) on one chart, with a grey guide line."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    sides = [comparison.candidate, comparison.production]
    for evaluation, colour in zip(sides, COLOURS, strict=True):
        if evaluation is not None:
            axes.scatter(x(evaluation), y(evaluation), s=12, alpha=0.6, color=colour,
                         label=f"{evaluation.version} ({evaluation.model_type})")
    guide(axes)
    axes.set(xlabel=xlabel, ylabel=ylabel, title=f"{comparison.region}: {title}")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return path


def write_report(comparison: Comparison, folder: Path) -> list[Path]:
    """Write predicted-vs-actual and residual plots (PNG) and a Markdown table to folder."""
    folder.mkdir(parents=True, exist_ok=True)
    actual = comparison.actual
    low, high = float(actual.min()), float(actual.max())
    scatter = _plot(
        folder / "predicted_vs_actual.png", comparison, (6, 6),
        f"predicted vs actual ({comparison.rows} rows)",
        "actual monthly price (Rp)", "predicted monthly price (Rp)",
        x=lambda e: actual, y=lambda e: e.predictions,
        guide=lambda axes: axes.plot([low, high], [low, high], color="grey", linewidth=1,
                                     label="perfect"))
    residuals = _plot(
        folder / "residuals.png", comparison, (8, 4), "residuals",
        "predicted monthly price (Rp)", "residual: predicted - actual (Rp)",
        x=lambda e: e.predictions, y=lambda e: e.predictions - actual,
        guide=lambda axes: axes.axhline(0, color="grey", linewidth=1))

    c = comparison
    title = f"# {c.region}: candidate {c.candidate.version} vs production " + (
        str(c.production.version) if c.production else "(none)")
    lines = [title, "",
             f"Both scored on the candidate's {c.rows} held-out rows (the same rows).", "",
             *comparison_table(c), "",
             f"**Verdict:** {c.verdict}; implied bump: {c.implied_bump or 'none'}.", "",
             c.explanation + ".", "",
             "![predicted vs actual](predicted_vs_actual.png)", "",
             "![residuals](residuals.png)", ""]
    table = folder / "comparison.md"
    table.write_text("\n".join(lines), encoding="utf-8")
    return [table, scatter, residuals]
