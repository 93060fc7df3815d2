"""Real servers for tests: Gunicorn running the service, a throwaway redis-server, Prometheus."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import psutil
import requests

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def terminate(process: subprocess.Popen | None, timeout: float) -> None:
    """SIGTERM a process still running, and SIGKILL it if it has not exited by `timeout`."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


class Gunicorn:
    """A real `gunicorn -c deploy/gunicorn.conf.py wsgi:app` on a free port."""

    def __init__(self, tmp: Path, env: dict[str, str], workers: int = 2) -> None:
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / f"gunicorn-{self.port}.out"
        metrics_dir = tmp / f"prometheus-{self.port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("KOSPRICE_")},
            "HOST": "127.0.0.1", "PORT": str(self.port), "KOSPRICE_WORKERS": str(workers),
            "KOSPRICE_LOG_DIR": str(tmp / "logs"), "KOSPRICE_STATE_DIR": str(tmp / "state"),
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), **env,
        }
        self.process: subprocess.Popen | None = None

    def start(self, wait: bool = True) -> Gunicorn:
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        if wait:
            wait_until(self.ready, timeout=90, what=f"gunicorn on {self.url}")
        return self

    def ready(self) -> bool:
        """Every worker has loaded the app, and /ready answers 200.

        Waiting for /ready alone is not enough: the first worker to boot answers it while
        the others may still be loading their models.
        """
        if self.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.output()}")
        if len(self.booted_workers()) < self.workers:
            return False
        try:
            return requests.get(self.url + "/ready", timeout=5).status_code == 200
        except (requests.ConnectionError, requests.Timeout):  # not listening, or still booting
            return False

    def worker_pids(self) -> list[int]:
        """The master's live worker processes."""
        try:
            return [child.pid for child in psutil.Process(self.process.pid).children()]
        except psutil.NoSuchProcess:
            return []

    def booted_workers(self) -> list[int]:
        """Live workers that have loaded the app (the "worker ready" line of each)."""
        booted = {record.get("pid") for record in self.records()
                  if record.get("event") == "worker ready"}
        return [pid for pid in self.worker_pids() if pid in booted]

    @contextmanager
    def only(self, pid: int):
        """Let only worker `pid` accept connections: the others are paused (SIGSTOP), so new
        connections wait in the shared listen backlog for it. Keep it short: a paused worker
        misses its heartbeats, and the master kills it after `timeout` (30 s)."""
        paused = [other for other in self.worker_pids() if other != pid]
        for other in paused:
            os.kill(other, signal.SIGSTOP)
        try:
            yield
        finally:
            for other in paused:
                os.kill(other, signal.SIGCONT)

    def served_by(self, method: str) -> set[int]:
        """PIDs of the workers whose access lines show `method` requests (/ready aside)."""
        return {r["pid"] for r in self.records() if r.get("event") == "access"
                and r.get("method") == method and r.get("path") != "/ready"}

    def records(self) -> list[dict]:
        """The JSON lines Gunicorn and the app wrote so far."""
        records = []
        for line in self.output().splitlines():
            if line.startswith("{"):
                try:
                    records.append(json.loads(line))
                except ValueError:  # a line being written right now
                    continue
        return records

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout: float = 60) -> int:
        return self.process.wait(timeout)

    def stop(self) -> None:
        terminate(self.process, timeout=30)
        self._log.close()


@contextmanager
def gunicorn(tmp: Path, env: dict[str, str], workers: int = 2):
    server = Gunicorn(tmp, env, workers)
    try:  # stop it even when it never became ready: no server outlives its test
        yield server.start()
    finally:
        server.stop()


class RedisServer:
    """A redis-server process of the test's own, which a test may stop and restart."""

    def __init__(self, tmp: Path) -> None:
        self.binary = shutil.which("redis-server")
        if not self.binary:
            raise FileNotFoundError("redis-server is not installed")
        self.port = free_port()
        self.dir = tmp
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._accepting, timeout=10, what=f"redis-server on {self.port}")
        return self

    def _accepting(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            return True
        except OSError:
            return False

    def stop(self) -> None:
        terminate(self.process, timeout=10)


def require_binary(name: str, package: str) -> str:
    """Return the path of a system binary; skip the test without it (fail under CI=true)."""
    import pytest

    path = shutil.which(name)
    if path:
        return path
    message = (f"`{name}` is not installed (Debian package `{package}`; "
               f"`make system-deps` installs it as root)")
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def cpu_hog(cpus: int = 1):
    """Keep `cpus` cores busy (stress-ng) so that a test sees a loaded machine's scheduling."""
    binary = require_binary("stress-ng", "stress-ng")
    process = subprocess.Popen([binary, "--cpu", str(cpus), "--quiet"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield process
    finally:
        terminate(process, timeout=10)


class Prometheus:
    """A real Prometheus scraping `targets` every second, evaluating `rule_files`."""

    def __init__(self, tmp: Path, targets: list[str], rule_files: list[Path] = (),
                 job: str = "kosprice") -> None:
        self.binary = shutil.which("prometheus")
        if not self.binary:
            raise FileNotFoundError("prometheus is not installed")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dir = tmp / f"prometheus-server-{self.port}"
        self.dir.mkdir(parents=True)
        config = {  # JSON is YAML
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                       "evaluation_interval": "1s"},
            "rule_files": [str(path) for path in rule_files],
            "scrape_configs": [{"job_name": job, "static_configs": [{"targets": targets}]}],
        }
        self.config_path = self.dir / "prometheus.yml"
        self.config_path.write_text(json.dumps(config, indent=2))
        self.log_path = self.dir / "prometheus.out"
        self.process: subprocess.Popen | None = None

    def start(self) -> Prometheus:
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [self.binary, f"--config.file={self.config_path}",
             f"--storage.tsdb.path={self.dir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            cwd=self.dir, stdout=self._log, stderr=subprocess.STDOUT)
        wait_until(self._ready, timeout=30, what=f"prometheus on {self.url}")
        return self

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"prometheus exited with {self.process.returncode}:\n"
                               + self.log_path.read_text(errors="replace"))
        try:
            return requests.get(self.url + "/-/ready", timeout=1).status_code == 200
        except (requests.ConnectionError, requests.Timeout):
            return False

    def api(self, endpoint: str, **params) -> dict:
        """Call the HTTP API; return `data`, raising on an error status."""
        response = requests.get(f"{self.url}/api/v1/{endpoint}", params=params, timeout=10)
        body = response.json()
        if body.get("status") != "success":
            raise AssertionError(f"{endpoint} {params}: {body.get('errorType')}: "
                                 f"{body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        """Evaluate an instant query now; return its result vector."""
        return self.api("query", query=expr)["result"]

    def stop(self) -> None:
        terminate(self.process, timeout=15)
        self._log.close()
