"""`kosprice report`: each region's model against the original project's published errors."""

from __future__ import annotations

from pathlib import Path

import click

from kosprice.cli.common import settings
from kosprice.ml import quality


@click.command()
@click.option("--models-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Root of {region}/vX.Y.Z/ folders to report on (default: the models "
                   "directory; the candidates directory works too).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("docs/quality"), show_default=True,
              help="Where quality.md and its plots go.")
def report(models_dir: Path | None, out: Path) -> None:
    """Table and plots: CV and held-out errors vs the published ones, range coverage."""
    root = models_dir or settings().models_dir
    found = quality.collect(root)
    if not found:
        raise click.ClickException(f"no model versions under {root}")
    for line in quality.markdown(quality.summary_rows(found)):
        click.echo(line)
    written = quality.write(found, out)
    click.echo(f"report written to {', '.join(str(p) for p in written)}")


COMMANDS = [report]
