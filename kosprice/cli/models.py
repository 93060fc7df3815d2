"""`kosprice validate`: the startup integrity checks, offline."""

from __future__ import annotations

from pathlib import Path

import click

from kosprice.cli.common import settings
from kosprice.ml.repository import validate as validate_models


@click.command()
@click.option("--models-dir", type=click.Path(path_type=Path),
              help="Models directory (default: KOSPRICE_MODELS_DIR or ./models).")
def validate(models_dir: Path | None) -> None:
    """Run the startup integrity checks; exit 0 when clean, 1 listing every problem."""
    root = models_dir or settings().models_dir
    problems, serving = validate_models(root)
    for problem in problems:
        click.echo(f"FAIL {problem}", err=True)
    if problems:
        click.echo(f"{len(problems)} problem(s) found under {root}", err=True)
        raise SystemExit(1)
    for region, model in sorted(serving.items()):
        click.echo(f"ok   {region}: serving {model.version} ({model.metadata['model_type']})")


COMMANDS = [validate]
