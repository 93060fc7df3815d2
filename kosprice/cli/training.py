"""`kosprice train`: fit, evaluate and write a candidate version folder."""

from __future__ import annotations

import time
from pathlib import Path

import click

from kosprice.cli.common import fail, region_option, settings
from kosprice.errors import KospriceError
from kosprice.ml import training
from kosprice.ml.artifact import save_version
from kosprice.ml.repository import ModelRepository
from kosprice.ml.versions import FIRST


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
              help="Root to write {region}/vX.Y.Z/ under (default: the candidates directory).")
@click.option("--model", "estimator", type=click.Choice(sorted(training.ESTIMATORS)),
              help="Estimator (default: the region's default).")
@click.option("--seed", type=int, default=training.SEED, show_default=True)
def train(region: str, data: Path, out: Path | None, estimator: str | None, seed: int) -> None:
    """Train a model for REGION from a CSV and write a version folder."""
    root = out or settings().candidates_dir
    try:
        result = training.train(region, data, estimator, seed, progress=_progress())
    except KospriceError as exc:
        raise fail(exc) from None
    existing = ModelRepository(root).versions(region)
    version = existing[-1].bump("major") if existing else FIRST
    result.metadata["model_version"] = str(version)
    target = ModelRepository(root).version_dir(region, version)
    save_version(target, result.model, result.metadata,
                 [("holdout.csv", result.holdout.to_csv(index=False).encode())])
    m = result.metadata["metrics"]
    click.echo(f"{region} {version} {result.metadata['model_type']}: R² {m['r2']:.4f}  "
               f"MAE {m['mae']:,.0f}  RMSE {m['rmse']:,.0f}  MAPE {m['mape']:.2%}")
    click.echo(f"written to {target}")


COMMANDS = [train]
