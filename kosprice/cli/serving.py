"""`kosprice wait-served`: after `make reload`, wait until the service serves production."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import click

from kosprice.cli.common import lifecycle
from kosprice.errors import LifecycleError


def _ready(url: str) -> dict[str, str] | None:
    """The versions one worker's /ready reports; None while it does not answer."""
    try:
        with urllib.request.urlopen(f"{url}/ready", timeout=5) as response:
            return json.loads(response.read()).get("models") or None
    except (OSError, ValueError):  # refused, reset, timed out, 503 or not JSON: ask again
        return None


@click.command("wait-served")
@click.option("--url", required=True, help="The service, e.g. http://127.0.0.1:8000.")
@click.option("--timeout", type=click.FloatRange(min=0), default=30.0, show_default=True,
              help="Seconds to wait for every region to serve production's version.")
def wait_served(url: str, timeout: float) -> None:
    """Wait until /ready reports, for every region, the version production holds; print them."""
    production = lifecycle().production
    url = url.rstrip("/")
    deadline = time.monotonic() + timeout
    while True:
        served = _ready(url)
        expected = {region: str(production.serving_version(region)) for region in served or ()}
        if served and served == expected:
            click.echo("serving: " + ", ".join(f"{r} {v}" for r, v in sorted(served.items())))
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    if not served:
        raise LifecycleError(f"{url}/ready did not answer within {timeout:g} s")
    behind = ", ".join(f"{r} {served[r]} (production: {expected[r]})"
                       for r in sorted(served) if served[r] != expected[r])
    raise LifecycleError(f"after {timeout:g} s the service still serves {behind}")


COMMANDS = [wait_served]
