"""The `kosprice` command: one module per command group."""

from __future__ import annotations

import click

from kosprice.cli import candidates, lifecycle, models, quality, scoring, serving, training
from kosprice.cli.common import KospriceGroup


@click.group(cls=KospriceGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kosprice")
def main() -> None:
    """Governed per-region rent models for Indonesian boarding houses (kos)."""


for group in (training, models, lifecycle, candidates, serving, scoring, quality):
    for command in group.COMMANDS:
        main.add_command(command)
