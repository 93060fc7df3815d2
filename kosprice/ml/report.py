"""The comparison report written next to a candidate: two plots and a Markdown table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from kosprice.ml.comparison import BOOTSTRAP_LEVEL, Comparison, Evaluation

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
    if (interval := c.mae_difference_interval()) is not None:
        rows.append([f"MAE difference, {BOOTSTRAP_LEVEL:.0%} paired bootstrap",
                     f"{c.candidate.metrics['mae'] - p.metrics['mae']:+,.0f} "
                     f"[{interval[0]:+,.0f}, {interval[1]:+,.0f}]", "-"])
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


MILLION = 1e6
"""Plots show Rupiah in millions: axis labels say so, ticks carry no 1e6 offset."""


def _plot(path: Path, comparison: Comparison, size: tuple[float, float], title: str,
          xlabel: str, ylabel: str, x: Callable[[Evaluation], np.ndarray],
          y: Callable[[Evaluation], np.ndarray], guide: Callable[[Any], None]) -> Path:
    """One panel per model (candidate left, production right) on shared axes, so points
    never hide each other; semi-transparent points, a grey guide, 1,300 px wide."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size)
    FigureCanvasAgg(figure)
    sides = [e for e in (comparison.candidate, comparison.production) if e is not None]
    panels = figure.subplots(1, len(sides), sharex=True, sharey=True, squeeze=False)[0]
    for axes, evaluation, colour, role in zip(panels, sides, COLOURS,
                                             ("candidate", "production"), strict=False):
        axes.scatter(x(evaluation) / MILLION, y(evaluation) / MILLION, s=14, alpha=0.5,
                     color=colour, edgecolors="none",
                     label=f"{role} {evaluation.version} ({evaluation.model_type})")
        guide(axes)
        axes.ticklabel_format(useOffset=False, style="plain")
        axes.set(xlabel=xlabel, ylabel=ylabel)
        axes.set_title(f"{role} {evaluation.version}: MAE "
                       f"{evaluation.metrics['mae'] / MILLION:.3f}M Rp")
        axes.grid(alpha=0.3)
        axes.legend(loc="upper left", fontsize="small", framealpha=0.6)
    figure.suptitle(f"{comparison.region}: {title}")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return path


def write_report(comparison: Comparison, folder: Path) -> list[Path]:
    """Write predicted-vs-actual and residual plots (PNG) and a Markdown table to folder."""
    folder.mkdir(parents=True, exist_ok=True)
    actual = comparison.actual
    low, high = float(actual.min()), float(actual.max())
    scatter = _plot(
        folder / "predicted_vs_actual.png", comparison, (13, 6.5),
        f"predicted vs actual ({comparison.rows} rows)",
        "actual monthly price (million Rp)", "predicted monthly price (million Rp)",
        x=lambda e: actual, y=lambda e: e.predictions,
        guide=lambda axes: axes.plot([low / MILLION, high / MILLION],
                                     [low / MILLION, high / MILLION], color="grey",
                                     linewidth=1, label="predicted = actual"))
    residuals = _plot(
        folder / "residuals.png", comparison, (13, 5), "residuals",
        "predicted monthly price (million Rp)", "residual: predicted - actual (million Rp)",
        x=lambda e: e.predictions, y=lambda e: e.predictions - actual,
        guide=lambda axes: axes.axhline(0, color="grey", linewidth=1))

    c = comparison
    title = f"# {c.region}: candidate {c.candidate.version} vs production " + (
        str(c.production.version) if c.production else "(none)")
    lines = [title, "",
             f"Both scored on {c.basis} (the same rows).", "",
             *comparison_table(c), "",
             f"**Verdict:** {c.verdict}; implied bump: {c.implied_bump or 'none'}.", "",
             c.explanation + ".", "",
             "![predicted vs actual](predicted_vs_actual.png)", "",
             "![residuals](residuals.png)", ""]
    table = folder / "comparison.md"
    table.write_text("\n".join(lines), encoding="utf-8")
    return [table, scatter, residuals]
