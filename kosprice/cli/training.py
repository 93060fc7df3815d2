"""`kosprice train`: fit, evaluate and write a candidate version folder (never into models/)."""

from __future__ import annotations

import shlex
import time
from pathlib import Path

import click

from kosprice.cli.common import echo_comparison, echo_recovered, lifecycle, region_option
from kosprice.ml import search, training


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
@click.option("--model", "estimator", type=click.Choice(sorted(search.CANDIDATES)),
              help="Cross-validate and fit only this candidate (default: search the grid "
                   "and keep the lowest CV MAE).")
@click.option("--seed", type=int, default=training.SEED, show_default=True)
@click.option("--bump", type=click.Choice(["major", "minor", "patch"]),
              help="Override the computed version bump (needs --reason); patch declares a fix.")
@click.option("--reason", help="Why the bump is overridden (recorded in the metadata).")
def train(region: str, data: Path, out: Path | None, estimator: str | None, seed: int,
          bump: str | None, reason: str | None) -> None:
    """Train a candidate for REGION from a CSV; its version follows the bump rules."""
    candidate = lifecycle().train_candidate(
        region, data, out=out, bump=bump, reason=reason, estimator_name=estimator, seed=seed,
        progress=_progress())
    echo_recovered(candidate.recovered)
    metadata = candidate.metadata
    version, versioning, m = (metadata["model_version"], metadata["versioning"],
                              metadata["metrics"])
    echo_comparison(candidate.comparison)
    click.echo(f"{region} {version} {metadata['model_type']}: R² {m['r2']:.4f}  "
               f"MAE {m['mae']:,.0f}  RMSE {m['rmse']:,.0f}  MAPE {m['mape']:.2%}  "
               f"(bump: {versioning['bump']}{', override' if versioning['override'] else ''})")
    cv = metadata["model_search"]
    click.echo(f"chosen by {cv['repeats']} x {cv['folds']}-fold CV on the training rows: "
               f"{cv['chosen']}, CV MAE {cv['cv_mae_mean']:,.0f} ± {cv['cv_mae_sd']:,.0f} "
               f"(search {cv['seconds']:.0f}s)")
    elsewhere = f" --candidates-dir {shlex.quote(str(out))}" if out is not None else ""
    click.echo(f"candidate written to {candidate.folder}; review it with "
               f"`kosprice compare --region {region} --candidate {version}{elsewhere}`")


COMMANDS = [train]
