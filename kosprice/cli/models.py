"""`kosprice validate | sign`: the startup integrity checks offline, and artifact signatures."""

from __future__ import annotations

from pathlib import Path

import click

from kosprice.cli.common import (
    approved_by_option,
    echo_recovered,
    lifecycle,
    reason_option,
    settings,
)
from kosprice.features import REGIONS
from kosprice.ml.repository import validate as validate_models
from kosprice.ml.signing import Signer


@click.command()
@click.option("--models-dir", type=click.Path(path_type=Path),
              help="Models directory (default: KOSPRICE_MODELS_DIR or ./models).")
def validate(models_dir: Path | None) -> None:
    """Run the startup integrity checks; exit 0 when clean, 1 listing every problem."""
    config = settings()
    root = models_dir or config.models_dir
    problems, serving = validate_models(root, signer=Signer.from_settings(config))
    for problem in problems:
        click.echo(f"FAIL {problem}", err=True)
    if problems:
        click.echo(f"{len(problems)} problem(s) found under {root}", err=True)
        raise SystemExit(1)
    for region, model in sorted(serving.items()):
        click.echo(f"ok   {region}: serving {model.version} ({model.metadata['model_type']})")


@click.command()
@click.option("--region", "regions", multiple=True, type=click.Choice(REGIONS),
              help="Region to sign (repeatable; default: every region).")
@click.option("--version", "versions", multiple=True,
              help="Version to sign (repeatable, needs one --region; default: all of them).")
@approved_by_option
@reason_option
def sign(regions: tuple[str, ...], versions: tuple[str, ...], approved_by: str,
         reason: str) -> None:
    """Sign production versions with the configured key (HMAC-SHA256); audited."""
    if versions and len(regions) != 1:
        raise click.UsageError("--version needs exactly one --region")
    lc = lifecycle()
    for region in regions or REGIONS:
        result = lc.sign(region, list(versions), approved_by, reason)
        echo_recovered(result.recovered)
        click.echo(f"signed {region} {', '.join(result.record['signed'])} "
                   f"(key {result.record['key_id']})")


COMMANDS = [validate, sign]
