"""`kosprice candidates [--prune]`: list candidates, or remove old ones (audited)."""

from __future__ import annotations

import click

from kosprice.cli.common import echo_recovered, lifecycle
from kosprice.errors import LifecycleError
from kosprice.features import REGIONS
from kosprice.ml.candidates import DEFAULT_KEEP, prune, summarize


@click.command()
@click.option("--region", type=click.Choice(REGIONS), help="Only this region.")
@click.option("--prune", "pruning", is_flag=True,
              help="Remove all but the newest --keep candidates of each region (audited).")
@click.option("--keep", type=click.IntRange(min=0), default=DEFAULT_KEEP, show_default=True,
              help="With --prune: how many of the newest candidates per region to keep.")
@click.option("--approved-by", help="With --prune: who approved it (recorded in the audit log).")
@click.option("--reason", help="With --prune: why (recorded in the audit log).")
def candidates(region: str | None, pruning: bool, keep: int, approved_by: str | None,
               reason: str | None) -> None:
    """List candidates (model, trained at, held-out MAE, report); --prune removes old ones."""
    lc = lifecycle()
    regions = [region] if region else list(REGIONS)
    if pruning:
        if not approved_by or not reason:
            raise LifecycleError("pruning candidates needs --approved-by and a --reason")
        records, recovered = prune(lc, approved_by, reason, keep=keep, regions=regions)
        echo_recovered(recovered)
        for record in records:
            click.echo(f"pruned {record['region']}: removed {', '.join(record['removed'])}; "
                       f"kept {', '.join(record['kept']) or '-'}")
        if not records:
            click.echo(f"nothing to prune: no region has more than {keep} candidates")
        return
    for name in regions:
        click.echo(name)
        summaries = summarize(lc, name)
        for s in summaries:
            mae = "-" if s.mae is None else f"{s.mae:,.0f}"
            click.echo(f"  {str(s.version):<10} {s.model_type or '?':<30} "
                       f"{s.trained_at or '?':<26} MAE {mae:>10}  "
                       f"report: {'yes' if s.reported else 'no'}")
        if not summaries:
            click.echo("  -")


COMMANDS = [candidates]
