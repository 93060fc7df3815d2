"""Options and helpers shared by the command modules."""

from __future__ import annotations

import click

from kosprice.errors import KospriceError
from kosprice.features import REGIONS
from kosprice.settings import Settings

region_option = click.option("--region", required=True, type=click.Choice(REGIONS),
                             help="Region whose model to act on.")


def settings() -> Settings:
    """Return settings from the environment, or stop with the configuration error."""
    try:
        return Settings.from_env()
    except KospriceError as exc:
        raise click.ClickException(exc.message) from None


def fail(exc: KospriceError) -> click.ClickException:
    return click.ClickException(exc.message)
