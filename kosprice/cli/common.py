"""What every command shares: the group that turns kosprice errors into one message and an
exit code, the common options, and the printing helpers."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any

import click

from kosprice.errors import KospriceError
from kosprice.features import REGIONS
from kosprice.ml.comparison import Comparison
from kosprice.ml.journal import RECOVERED
from kosprice.ml.lifecycle import Lifecycle
from kosprice.ml.report import comparison_table
from kosprice.settings import Settings


class KospriceGroup(click.Group):
    """A command group in which a KospriceError ends the command with `Error: …`, exit 1.

    Notes on the error (what a refused action's recovery completed) are printed first.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KospriceError as exc:
            for note in getattr(exc, "__notes__", ()):
                click.echo(note, err=True)
            raise click.ClickException(as_called(exc.message)) from None


MAKE_VARIABLES = {"--force": "FORCE=1", "--approved-by": "APPROVED_BY=…", "--reason": "REASON=…",
                  "--bump": "BUMP=…", "--to": "TO=…"}
"""How the Makefile's lifecycle targets spell the options hints name."""


def as_called(message: str) -> str:
    """Name `make` variables instead of options when the Makefile ran the command (it sets
    CALLED_FROM_MAKE=1), so a hint like "use --force" matches what the user typed."""
    if os.environ.get("CALLED_FROM_MAKE") != "1":
        return message
    return re.sub(r"--[a-z-]+\b", lambda m: MAKE_VARIABLES.get(m.group(0), m.group(0)), message)


region_option = click.option("--region", required=True, type=click.Choice(REGIONS),
                             help="Region whose model to act on.")
approved_by_option = click.option("--approved-by", required=True,
                                  help="Who approved this change (recorded in the audit log).")
reason_option = click.option("--reason", required=True,
                             help="Why (recorded in the audit log).")


def settings() -> Settings:
    """Settings from the environment (a ConfigurationError ends the command)."""
    return Settings.from_env()


def lifecycle(candidates_dir: Path | None = None) -> Lifecycle:
    """The configured lifecycle; `candidates_dir` overrides where candidates are read."""
    configured = settings()
    if candidates_dir is not None:
        configured = dataclasses.replace(configured, candidates_dir=candidates_dir)
    return Lifecycle.from_settings(configured)


def echo_comparison(comparison: Comparison) -> None:
    click.echo(f"{comparison.region}: both scored on {comparison.basis}")
    for line in comparison_table(comparison):
        click.echo(line)
    click.echo(f"verdict: {comparison.verdict}; implied bump: "
               f"{comparison.implied_bump or 'none'} - {comparison.explanation}")
    for finding in comparison.shift:
        click.echo(f"SHIFT: {finding}")
    if comparison.shift:
        click.echo("a large shift: promote refuses this candidate without --force and a reason")


def echo_recovered(messages: list[str]) -> None:
    """Say which interrupted actions were completed (on stderr, like a refusal's notes)."""
    for message in messages:
        click.echo(RECOVERED + message, err=True)
