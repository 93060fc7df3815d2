"""`kosprice predict`: price a CSV of listings with a region's serving model."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from kosprice.cli.common import region_option, settings
from kosprice.errors import IntegrityError
from kosprice.ml import predictor
from kosprice.ml.repository import LoadedModel, ModelRepository, Problem, check_version
from kosprice.ml.scoring import score_csv


def serving_model(models_dir: Path, region: str) -> LoadedModel:
    """The region's serving version, validated like at startup, its fast path prepared."""
    repository = ModelRepository(models_dir)
    version = repository.serving_version(region)
    if version is None:
        raise IntegrityError([Problem(repository.region_dir(region), "no model version")])
    problems, model = check_version(repository.version_dir(region, version), region)
    if model is None:
        raise IntegrityError(problems)
    return predictor.prepare(model)


def _count_rows(path: Path) -> int | None:
    try:
        with open(path, "rb") as handle:
            return max(0, sum(1 for _ in handle) - 1)
    except OSError:
        return None


@click.command("predict")
@region_option
@click.option("--data", "source", required=True, type=click.Path(path_type=Path),
              help="CSV of listings (the published columns; extra columns are kept).")
@click.option("--out", "target", required=True, type=click.Path(path_type=Path),
              help="CSV to write: every input row plus predicted_price and rejected_reason.")
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@click.option("--models-dir", type=click.Path(path_type=Path),
              help="Models directory (default: KOSPRICE_MODELS_DIR or ./models).")
def predict(region: str, source: Path, target: Path, overwrite: bool,
            models_dir: Path | None) -> None:
    """Price every listing of a CSV through the service's exact fast path.

    Rows that fail the catalogue's checks are kept without a price and reported with their
    line numbers and reasons. An existing --out is never replaced without --overwrite.
    """
    if target.exists() and not overwrite:
        raise click.ClickException(f"{target} exists; pass --overwrite to replace it")
    model = serving_model(models_dir or settings().models_dir, region)
    click.echo(f"{region}: {model.version} ({model.metadata['model_type']}), "
               f"inference: {model.inference.engine}", err=True)
    with click.progressbar(length=_count_rows(source) or 0, label="pricing",
                           file=sys.stderr) as bar:
        report = score_csv(model, source, target, overwrite, progress=bar.update)
    for line, reason in report.rejected:
        click.echo(f"line {line}: rejected: {reason}", err=True)
    click.echo(f"{report.priced} of {report.rows} rows priced, {len(report.rejected)} "
               f"rejected; wrote {target}", err=True)


COMMANDS = [predict]
