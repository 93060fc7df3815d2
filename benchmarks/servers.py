"""Gunicorn servers on loopback and `wrk` rounds against them, for `make bench`.

Every server runs `gunicorn -c deploy/gunicorn.conf.py APP` — whatever worker class and
count that file says at run time — on its own port, state and log directories.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.servers import BIN, ROOT, free_port, terminate


class Server:
    """One Gunicorn master with its workers, started with `APP` under the shared config."""

    def __init__(self, name: str, app: str, tmp: Path, env: dict[str, str]) -> None:
        self.name, self.app, self.port = name, app, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        home = tmp / name
        home.mkdir(parents=True)
        self.output = home / "gunicorn.out"
        self.env = {**{k: v for k, v in os.environ.items()
                       if not k.startswith("KOSPRICE_") and k != "PROMETHEUS_MULTIPROC_DIR"},
                    "HOST": "127.0.0.1", "PORT": str(self.port),
                    "KOSPRICE_STATE_DIR": str(home / "state"),
                    "KOSPRICE_LOG_DIR": str(home / "logs"), **env}
        self.process: subprocess.Popen | None = None

    def start(self) -> Server:
        with open(self.output, "wb") as out:
            self.process = subprocess.Popen(
                [str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "--pythonpath", ".",
                 self.app], cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        return self

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.output}:\n"
                                   + self.output.read_text(errors="replace")[-2000:])
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as response:
                    if response.status == 200 and len(self.worker_pids()) >= 1:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready after {timeout}s")

    def worker_pids(self) -> list[int]:
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []

    def worker_rss_mib(self) -> list[float]:
        """Resident memory of each worker (MiB), from /proc."""
        sizes = []
        for pid in self.worker_pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            match = re.search(r"VmRSS:\s+(\d+) kB", status)
            if match:
                sizes.append(int(match.group(1)) / 1024)
        return sizes

    def post(self, path: str, body: object, timeout: float = 30.0) -> object:
        request = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        terminate(self.process, 30)


@dataclass(frozen=True)
class Round:
    """One wrk run: throughput and latency percentiles (milliseconds)."""

    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int


UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def parse_wrk(output: str) -> Round:
    """Read `wrk --latency` output: Requests/sec, the 50% and 99% lines, error counts."""
    def latency(percent: str) -> float:
        match = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)
        if not match:
            raise ValueError(f"no {percent}% latency in wrk output:\n{output}")
        return float(match.group(1)) * UNITS_MS[match.group(2)]

    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    if not rate:
        raise ValueError(f"no Requests/sec in wrk output:\n{output}")
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors += int(non_2xx.group(1)) if non_2xx else 0
    return Round(float(rate.group(1)), latency("50"), latency("99"), errors)


def wrk_script(tmp: Path, body: object) -> Path:
    """A wrk Lua script that POSTs `body` as JSON."""
    path = tmp / f"post-{abs(hash(json.dumps(body, sort_keys=True)))}.lua"
    path.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(json.dumps(body))}\n"
        'wrk.headers["Content-Type"] = "application/json"\n', encoding="utf-8")
    return path


def run_wrk(url: str, script: Path, seconds: float, connections: int = 4) -> Round:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed: `bash deploy/system-deps.sh bench` (as root)")
    duration = max(1, round(seconds))
    result = subprocess.run(
        [wrk, "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "--latency",
         "-s", str(script), url], capture_output=True, text=True, timeout=duration + 60,
        check=True)
    return parse_wrk(result.stdout)
