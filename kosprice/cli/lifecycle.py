"""`kosprice compare | promote | rollback | retire | recover | versions | audit`: the lifecycle.

Promotion is always a person's decision: these commands check, compare and record, and
`make reload` then makes the running service serve what production holds.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from kosprice.cli.common import (
    approved_by_option,
    echo_comparison,
    echo_recovered,
    lifecycle,
    reason_option,
    region_option,
)
from kosprice.errors import KospriceError
from kosprice.features import REGIONS
from kosprice.ml.lifecycle import Lifecycle, VersionListing

RELOAD_HINT = "run `make reload` to have the running service serve it"


@click.command()
@region_option
@click.option("--candidate", "version", required=True, help="Candidate version, e.g. v1.1.0.")
@click.option("--candidates-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Root the candidate was written under, e.g. `train --out DIR` "
                   "(default: the configured candidates directory).")
def compare(region: str, version: str, candidates_dir: Path | None) -> None:
    """Compare a candidate with production on the same held-out rows; write a report."""
    comparison, paths = lifecycle(candidates_dir).compare(region, version)
    echo_comparison(comparison)
    click.echo(f"report: {paths[0].parent}")


@click.command()
@region_option
@click.option("--version", required=True, help="Candidate version to promote, e.g. v1.1.0.")
@approved_by_option
@reason_option
@click.option("--force", is_flag=True,
              help="Promote even when worse than production (the reason is recorded).")
def promote(region: str, version: str, approved_by: str, reason: str, force: bool) -> None:
    """Copy an approved candidate into production and record it in the audit log."""
    result = lifecycle().promote(region, version, approved_by, reason, force=force)
    echo_recovered(result.recovered)
    record = result.record
    forced = " (forced)" if record["forced"] else ""
    click.echo(f"promoted {region} {record['from_version'] or '(none)'} -> "
               f"{record['to_version']}{forced}; {RELOAD_HINT}")


@click.command()
@region_option
@click.option("--to", "to", help="Version to serve again (default: the previous one).")
@approved_by_option
@reason_option
def rollback(region: str, to: str | None, approved_by: str, reason: str) -> None:
    """Archive the newer production version(s) so an older one serves again."""
    result = lifecycle().rollback(region, approved_by, reason, to=to)
    echo_recovered(result.recovered)
    record = result.record
    click.echo(f"rolled back {region} {record['from_version']} -> {record['to_version']}; "
               f"archived {', '.join(record['retired'])}; {RELOAD_HINT}")


@click.command()
@region_option
@click.option("--version", "versions", required=True, multiple=True,
              help="An older production version to archive, e.g. v1.0.0; repeatable.")
@approved_by_option
@reason_option
def retire(region: str, versions: tuple[str, ...], approved_by: str, reason: str) -> None:
    """Archive older production versions (e.g. after a scikit-learn upgrade); keep serving."""
    result = lifecycle().retire(region, list(versions), approved_by, reason)
    echo_recovered(result.recovered)
    record, problems = result.record, result.problems
    click.echo(f"retired {region} {', '.join(record['retired'])} to the archive; "
               f"{record['to_version']} still serves")
    for problem in problems:
        click.echo(f"warning: still fails validation: {problem}", err=True)
    if problems:
        click.echo(f"warning: `make reload` refuses until every {region} version in production "
                   "validates: retire those too, or fix them", err=True)
    else:
        click.echo("run `make reload` to validate models/ and reload the running service")


@click.command("evaluation-set")
@region_option
@click.option("--data", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The CSV the serving version was trained on (its sha256 is checked), in "
                   "the listings directory (KOSPRICE_DATA_DIR), where scoring reads it.")
@approved_by_option
@reason_option
def evaluation_set(region: str, data: Path, approved_by: str, reason: str) -> None:
    """Make or replace a region's fixed evaluation set (audited): the serving version's
    held-out rows, on which every candidate and production are scored."""
    result = lifecycle().build_evaluation_set(region, data, approved_by, reason)
    echo_recovered(result.recovered)
    record = result.record
    built = record["evaluation_set"]
    click.echo(f"{region} evaluation set {record['from_version'] or '(none)'} -> "
               f"{record['to_version']}: {built['rows']} held-out rows of "
               f"{built['source']['file']} (checked against {built['held_out_of']}), "
               "recorded by row id and sha256 in models/evaluation/manifest.json")


@click.command()
def recover() -> None:
    """Complete an interrupted promote, rollback or retire (`make reload` runs this first)."""
    messages = lifecycle().recover()
    echo_recovered(messages)
    if not messages:
        click.echo("nothing to recover", err=True)


def _warn_pending(lc: Lifecycle) -> None:
    for journal in lc.pending():
        click.echo(f"warning: an interrupted promote/rollback/retire ({journal.name}) is not "
                   "complete; run `kosprice recover`", err=True)


def _serving_note(listing: VersionListing) -> str | None:
    """How the running server's pinned version relates to what production holds on disk."""
    pinned, newest = listing.pinned, listing.newest
    if pinned is None:
        return "not pinned by the running server" if newest is not None else None
    if newest is None or pinned > newest:
        return (f"{pinned} serves but is no longer in production: rolled back"
                f"{f' to {newest}' if newest else ''}, not yet reloaded (`make reload`)")
    if pinned < newest:
        return f"{newest} is newest on disk: promoted, not yet reloaded (`make reload`)"
    return None


@click.command()
@click.option("--region", type=click.Choice(REGIONS), help="Only this region.")
def versions(region: str | None) -> None:
    """List production, candidate and archived versions; `*` marks the serving one."""
    lc = lifecycle()
    _warn_pending(lc)
    try:
        pinned = lc.pinned()
    except KospriceError as exc:
        click.echo(f"warning: {exc.message}", err=True)
        pinned = None
    if pinned is None:
        click.echo("* = newest on disk (no serving manifest: no running server pinned one)")
    else:
        click.echo("* = pinned by the running server")
    for name in [region] if region else REGIONS:
        listing = lc.listing(name, pinned)
        serving = listing.newest if pinned is None else listing.pinned
        production = [f"*{v}" if v == serving else str(v) for v in listing.production]
        click.echo(f"{name}")
        click.echo(f"  production: {' '.join(production) or '-'}")
        if pinned is not None and (note := _serving_note(listing)):
            click.echo(f"  serving:    {note}")
        click.echo(f"  candidates: {' '.join(map(str, listing.candidates)) or '-'}")
        click.echo(f"  archived:   {' '.join(map(str, listing.archived)) or '-'}")


def _mae_change(metrics: dict) -> str:
    """`MAE a -> b` only when both were measured on the same rows (older rollback records
    hold each version's MAE on its own held-out rows: those are shown apart)."""
    before = (metrics.get("from") or {}).get("mae")
    after = (metrics.get("to") or {}).get("mae")
    same = metrics.get("same_rows",
                       metrics.get("evaluated_on") != "each version's own held-out rows")
    if before is not None and after is not None and same:
        return f"MAE {before:,.0f} -> {after:,.0f}"
    if before is not None and after is not None:
        return f"MAE {before:,.0f} and {after:,.0f}, each on its own held-out rows"
    return f"MAE {after:,.0f}" if after is not None else ""


@click.command()
@click.option("--region", type=click.Choice(REGIONS), help="Only this region.")
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON Lines records.")
def audit(region: str | None, as_json: bool) -> None:
    """Print the promote, rollback and retire trail, oldest first."""
    lc = lifecycle()
    _warn_pending(lc)
    for record in lc.history(region):
        if as_json:
            click.echo(json.dumps(record, ensure_ascii=False))
            continue
        change = _mae_change(record.get("metrics") or {})
        archived = f"  archived {', '.join(record['retired'])}" if record.get("retired") else ""
        if record.get("removed"):
            archived = f"  removed candidates {', '.join(record['removed'])}"
        click.echo(f"{record['at']}  {record['action']:<8} {record['region']:<16} "
                   f"{record['from_version'] or '(none)'} -> {record['to_version'] or '(none)'}"
                   f"{'  FORCED' if record.get('forced') else ''}  by {record['approved_by']}: "
                   f"{record['reason']}  [{change}]{archived}")


COMMANDS = [compare, promote, rollback, retire, evaluation_set, recover, versions, audit]
