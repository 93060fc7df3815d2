"""The quality report: each region's model against the original project's published errors.

Read from version metadata only (nothing is retrained here): the model chosen by CV, its CV
MAE, its held-out metrics on the original's split, the price-range coverage per level and
the search's wall time. `kosprice report` writes `quality.md` and two plots.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kosprice.features import REGIONS
from kosprice.ml.artifact import read_metadata
from kosprice.ml.intervals import LEVELS, level_key
from kosprice.ml.repository import ModelRepository

PUBLISHED = {
    # The original project's test metrics (80/20, seed 42, its stratification).
    "jakarta_pusat": {"model": "GradientBoosting", "r2": 0.7112, "mae": 538_324,
                      "rmse": 780_156, "mape": 0.2450},
    "jakarta_selatan": {"model": "RandomForest", "r2": 0.6247, "mae": 500_346,
                        "rmse": 682_353, "mape": 0.3012},
    "jakarta_utara": {"model": "RandomForest", "r2": 0.6914, "mae": 256_533,
                      "rmse": 327_870, "mape": 0.1835},
    "yogyakarta": {"model": "Ridge", "r2": 0.7180, "mae": 255_535,
                   "rmse": 334_977, "mape": 0.2701},
}


def collect(root: Path, versions: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """Metadata of each region's newest version under root (or the versions named)."""
    repository = ModelRepository(root)
    found = {}
    for region in REGIONS:
        version = (versions or {}).get(region) or repository.serving_version(region)
        if version is not None:
            found[region] = read_metadata(repository.version_dir(region, version))
    return found


def _model(meta: dict[str, Any]) -> str:
    target = meta.get("target_transform")
    return meta["model_type"] + (f" ({target} price)" if target else "")


def summary_rows(found: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for region, meta in found.items():
        search = meta.get("model_search") or {}
        coverage = (meta.get("intervals") or {}).get("holdout_coverage") or {}
        m, published = meta["metrics"], PUBLISHED[region]
        rows.append({
            "region": region, "version": meta["model_version"], "model": _model(meta),
            "candidate": search.get("chosen"), "cv_mae_mean": search.get("cv_mae_mean"),
            "cv_mae_sd": search.get("cv_mae_sd"), "search_seconds": search.get("seconds"),
            "stratify": meta.get("evaluation", {}).get("stratify"), **m,
            "published_mae": published["mae"], "beats_published": m["mae"] <= published["mae"],
            "coverage": {key: coverage[key]["coverage"] for key in coverage},
            "test_rows": meta.get("evaluation", {}).get("test_rows"),
            "out_of_fold": (meta.get("intervals") or {}).get("out_of_fold_coverage"),
            "mae_without_title": (meta.get("metrics_without_title") or {}).get("mae"),
        })
    return rows


def markdown(rows: list[dict[str, Any]]) -> list[str]:
    """The per-region table and the coverage table, as Markdown lines."""
    lines = ["| region | version | model (chosen by CV) | CV MAE (mean ± sd) | held-out MAE | "
             "published MAE | R² | RMSE | MAPE | beats published | split | search time | "
             "held-out MAE, titles left out |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cv = ("-" if r["cv_mae_mean"] is None
              else f"{r['cv_mae_mean']:,.0f} ± {r['cv_mae_sd']:,.0f}")
        seconds = "-" if r["search_seconds"] is None else f"{r['search_seconds']:.0f} s"
        untitled = "-" if r["mae_without_title"] is None else f"{r['mae_without_title']:,.0f}"
        lines.append(
            f"| {r['region']} | {r['version']} | {r['model']} | {cv} | {r['mae']:,.0f} | "
            f"{r['published_mae']:,.0f} | {r['r2']:.3f} | {r['rmse']:,.0f} | {r['mape']:.1%} | "
            f"{'yes' if r['beats_published'] else 'no'} "
            f"({(r['mae'] - r['published_mae']) / r['published_mae']:+.1%}) | "
            f"{r['stratify'] or '-'} | {seconds} | "
            f"{untitled} |")
    lines += ["", "Price-range coverage on the held-out rows (target: the level ± 3 points):",
              "", "| region | rows | " + " | ".join(f"{level:g}" for level in LEVELS) + " |",
              "|---|---|" + "---|" * len(LEVELS)]
    for r in rows:
        cells = [f"{r['coverage'][level_key(level)]:.1%}" if level_key(level) in r["coverage"]
                 else "-" for level in LEVELS]
        lines.append(f"| {r['region']} | {r['test_rows']} | " + " | ".join(cells) + " |")
    pooled = [r for r in rows if r["coverage"]]
    if pooled:
        total = sum(r["test_rows"] for r in pooled)
        cells = [f"{sum(r['coverage'][level_key(lv)] * r['test_rows'] for r in pooled) / total:.1%}"
                 for lv in LEVELS]
        lines.append(f"| all regions | {total} | " + " | ".join(cells) + " |")
    return lines + out_of_fold_table(rows)


def out_of_fold_table(rows: list[dict[str, Any]]) -> list[str]:
    """Coverage ± its standard error, measured out of fold over every row (calibration.py)."""
    measured = [r for r in rows if r["out_of_fold"]]
    if not measured:
        return []
    lines = ["", "Price-range coverage out of fold over all rows (5-fold; each fold's ranges "
             "calibrated as `kosprice train` does, on the other rows), ± one binomial "
             "standard error; * marks a level missed by more than 3 points:", "",
             "| region | rows | " + " | ".join(f"{level:g}" for level in LEVELS) + " |",
             "|---|---|" + "---|" * len(LEVELS)]
    for r in measured:
        ways = [("", r["out_of_fold"])]
        if "without_title" in r["out_of_fold"]:
            ways.append((", titles left out", r["out_of_fold"]["without_title"]))
        for label, way in ways:
            cells = []
            for level in LEVELS:
                m = way["levels"].get(level_key(level))
                cells.append("-" if m is None else
                             f"{m['coverage']:.1%} ± {m['standard_error']:.1%}"
                             + ("" if m["within_tolerance"] else " *"))
            lines.append(f"| {r['region']}{label} | {r['out_of_fold']['rows']} | "
                         + " | ".join(cells) + " |")
    return lines


def write(found: dict[str, dict[str, Any]], folder: Path) -> list[Path]:
    """Write quality.md, mae_vs_published.png and coverage.png into folder."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    folder.mkdir(parents=True, exist_ok=True)
    rows = summary_rows(found)
    figure = Figure(figsize=(8, 4))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = range(len(rows))
    axes.bar([p - 0.2 for p in positions], [r["mae"] for r in rows], 0.4, label="kosprice")
    axes.bar([p + 0.2 for p in positions], [r["published_mae"] for r in rows], 0.4,
             label="original (published)", color="grey")
    axes.set_xticks(list(positions), [r["region"] for r in rows])
    axes.set(ylabel="held-out MAE (Rp)", title="MAE on the original's split")
    axes.legend()
    figure.tight_layout()
    figure.savefig(folder / "mae_vs_published.png", dpi=100)

    figure = Figure(figsize=(5, 5))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for r in rows:
        measured = (r["out_of_fold"] or {}).get("levels") or {}
        if measured:  # the larger sample, with its standard error
            levels = [lv for lv in LEVELS if level_key(lv) in measured]
            axes.errorbar(levels, [measured[level_key(lv)]["coverage"] for lv in levels],
                          [measured[level_key(lv)]["standard_error"] for lv in levels],
                          marker="o", capsize=3, label=f"{r['region']} (out of fold)")
            continue
        levels = [lv for lv in LEVELS if level_key(lv) in r["coverage"]]
        axes.plot(levels, [r["coverage"][level_key(lv)] for lv in levels], marker="o",
                  label=f"{r['region']} (held out, {r['test_rows']} rows)")
    axes.plot([0.45, 1], [0.45, 1], color="grey", linewidth=1, label="nominal")
    axes.fill_between([0.45, 1], [0.42, 0.97], [0.48, 1.03], color="grey", alpha=0.15,
                      label="± 3 points")
    axes.set(xlabel="requested level", ylabel="coverage",
             title="price_range coverage")
    axes.legend()
    figure.tight_layout()
    figure.savefig(folder / "coverage.png", dpi=100)

    text = ["# Model quality against the original project", "",
            "Generated by `kosprice report` from the versions' metadata. Held-out metrics are "
            "on the original project's split (80/20, seed 42, price bands for jakarta_pusat "
            "and jakarta_selatan, price quintiles elsewhere); the model was chosen by "
            "repeated K-fold CV on the training rows only.", "", *markdown(rows), "",
            "![MAE vs published](mae_vs_published.png)", "", "![coverage](coverage.png)", ""]
    (folder / "quality.md").write_text("\n".join(text), encoding="utf-8")
    return [folder / "quality.md", folder / "mae_vs_published.png", folder / "coverage.png"]
