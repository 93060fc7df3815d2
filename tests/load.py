"""Steady client load on a real server, and the promote + `make reload` drill run under it."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime

import requests

from tests.factories import LISTING
from tests.servers import wait_until

SWITCH_BOUND = 10.0
"""Seconds from the HUP until the last response from an old worker (documented bound)."""
CONNECTIONS = 4
MAX_REQUESTS = 100_000


@dataclass(frozen=True)
class Outcome:
    sent: float
    done: float
    status: int | None
    version: str | None
    error: str | None = None


class SteadyLoad:
    """CONNECTIONS clients, each on its own kept-alive connection (a requests.Session),
    posting predictions back to back until stopped (bounded in count and time)."""

    def __init__(self, url: str, max_seconds: float = 600) -> None:
        self.url = url
        self.max_seconds = max_seconds
        self.outcomes: list[Outcome] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True)
                         for _ in range(CONNECTIONS)]

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        with requests.Session() as session:
            while not self._stop.is_set() and time.monotonic() < deadline:
                sent = time.monotonic()
                try:
                    response = session.post(self.url, json=LISTING, timeout=30)
                    outcome = Outcome(sent, time.monotonic(), response.status_code,
                                      response.json().get("model_version"))
                except (requests.RequestException, ValueError) as exc:
                    outcome = Outcome(sent, time.monotonic(), None, None, repr(exc))
                with self._lock:
                    self.outcomes.append(outcome)
                    if len(self.outcomes) >= MAX_REQUESTS:
                        self._stop.set()

    def __enter__(self) -> SteadyLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def snapshot(self) -> list[Outcome]:
        with self._lock:
            return list(self.outcomes)

    def served(self, version: str, since: float = float("-inf")) -> bool:
        """Whether a response from `version` arrived at or after `since` (monotonic)."""
        return any(o.version == version and o.done >= since for o in self.snapshot())


def hups(server) -> list[float]:
    """When the Gunicorn master began handling each HUP, on the monotonic clock."""
    offset = time.monotonic() - time.time()
    return [datetime.fromisoformat(r["timestamp"]).timestamp() + offset
            for r in server.records() if r.get("event") == "Handling signal: hup"]


def switch_over(load: SteadyLoad, server, reload, old: str, new: str) -> dict[str, float]:
    """Reload (`reload()` returns `make reload`'s result), keep the load on until the new
    version serves, and measure the switch from the moment the master took the HUP (`make
    reload` returns only once the new version serves, so its return is too late a start)."""
    before = len(hups(server))
    started = time.monotonic()
    result = reload()
    reloaded = time.monotonic()
    assert result.returncode == 0, result.stderr
    hup = wait_until(lambda: hups(server)[before:], timeout=10, what="the master's HUP line")[0]
    assert started <= hup <= reloaded
    # After the HUP: on a rollback the old version served before, long before this reload.
    # The new workers load every model first: on a loaded machine that can take over 10 s.
    wait_until(lambda: load.served(new, since=hup), timeout=60, what=f"{new} to serve")
    time.sleep(1.5)  # keep the load on after the switch, to catch any stray old worker
    after = [o for o in load.snapshot() if o.done >= hup]
    last_old = max((o.done for o in after if o.version == old), default=hup)
    first_new = min(o.done for o in after if o.version == new)
    newest = [o.version for o in after if o.sent > last_old]
    assert set(newest) == {new}
    return {"make_reload": round(reloaded - started, 2), "last_old": round(last_old - hup, 2),
            "first_new": round(first_new - hup, 2),
            "slowest": round(max(o.done - o.sent for o in after), 2)}


def reload_drill(server, lifecycle, reload, next_candidate, region: str, cycles: int) -> dict:
    """`cycles` times: make a candidate, promote it, `make reload`, under steady load.

    `next_candidate(cycle, serving)` writes a candidate and returns its version. Returns the
    requests sent, the failed ones and each switch's timings; the caller asserts.
    """
    switches = []
    with SteadyLoad(f"{server.url}/predict/{region}", max_seconds=3600) as load:
        wait_until(lambda: load.served("v1.0.0"), what="load to start")
        serving = "v1.0.0"
        for cycle in range(cycles):
            version = next_candidate(cycle, serving)
            lifecycle.promote(region, version, approved_by="drill", reason=f"cycle {cycle}",
                              force=True)
            switches.append(switch_over(load, server, reload, serving, version))
            serving = version
        outcomes = load.snapshot()
    failures = [o for o in outcomes if o.status != 200]
    return {"sent": len(outcomes), "failed": failures, "switches": switches,
            "serving": serving}
