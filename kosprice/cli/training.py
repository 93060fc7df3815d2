"""`kosprice train`: fit, evaluate and write a candidate version folder (never into models/)."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import click

from kosprice.cli.common import fail, region_option, settings
from kosprice.cli.lifecycle import echo_comparison, echo_recovered
from kosprice.errors import KospriceError, LifecycleError
from kosprice.ml import training
from kosprice.ml.comparison import compare
from kosprice.ml.lifecycle import Lifecycle, override_reason
from kosprice.settings import Settings


def refuse_inside_governed_dirs(root: Path, config: Settings) -> None:
    """Candidates never go under models/ (startup would fail) or the archive."""
    for name, governed in (("models", config.models_dir), ("archive", config.archive_dir)):
        if root.resolve().is_relative_to(governed.resolve()):
            raise LifecycleError(
                f"candidates never go into the {name} directory ({governed}): write them to "
                "the candidates directory and promote them with `kosprice promote`")


def _progress():
    started = time.perf_counter()

    def echo(message: str) -> None:
        click.echo(f"[{time.perf_counter() - started:6.2f}s] {message}", err=True)

    return echo


@click.command()
@region_option
@click.option("--data", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Listings CSV with the columns of the shipped data sets.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Root to write {region}/vX.Y.Z/ under, for experiments (default: the "
                   "candidates directory, where compare and promote look); never inside the "
                   "models or archive directory.")
@click.option("--model", "estimator", type=click.Choice(sorted(training.ESTIMATORS)),
              help="Estimator (default: the region's default).")
@click.option("--seed", type=int, default=training.SEED, show_default=True)
@click.option("--bump", type=click.Choice(["major", "minor", "patch"]),
              help="Override the computed version bump (needs --reason); patch declares a fix.")
@click.option("--reason", help="Why the bump is overridden (recorded in the metadata).")
def train(region: str, data: Path, out: Path | None, estimator: str | None, seed: int,
          bump: str | None, reason: str | None) -> None:
    """Train a candidate for REGION from a CSV; its version follows the bump rules."""
    config = settings()
    root = out or config.candidates_dir
    lc = Lifecycle.from_settings(config)
    try:
        refuse_inside_governed_dirs(root, config)
        override_reason(bump, reason)  # before the slow part
        result = training.train(region, data, estimator, seed, progress=_progress())
        production = lc.baseline(region)
        comparison = compare(region, result.model, result.metadata, result.holdout, production)
        with lc.exclusive() as recovered:
            echo_recovered(recovered)
            target = lc.save_candidate(result, comparison, production.version, root, bump,
                                       reason)
    except KospriceError as exc:
        raise fail(exc) from None
    version = result.metadata["model_version"]
    versioning = result.metadata["versioning"]
    echo_comparison(replace(comparison, candidate=replace(comparison.candidate,
                                                          version=str(version))))
    m = result.metadata["metrics"]
    click.echo(f"{region} {version} {result.metadata['model_type']}: R² {m['r2']:.4f}  "
               f"MAE {m['mae']:,.0f}  RMSE {m['rmse']:,.0f}  MAPE {m['mape']:.2%}  "
               f"(bump: {versioning['bump']}{', override' if versioning['override'] else ''})")
    click.echo(f"candidate written to {target}; review it with "
               f"`kosprice compare --region {region} --candidate {version}`")


COMMANDS = [train]
