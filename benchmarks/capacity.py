"""The numbers behind the README's capacity section, measured on this machine.

    make capacity         # or: .venv/bin/python benchmarks/capacity.py [--seconds 10]

1. A real Gunicorn with ONE worker serving the shipped models, recording into Redis: its
   predictions per second under 2 client threads over HTTP on loopback, the CPU time the
   worker used for them (on a shared machine the CPU-second rate is the number that carries
   over: a worker with a core of its own), and the resident memory (RSS) of the master and
   the worker once every region has answered.
2. Redis memory per region: a store filled to its window at the default settings
   (KOSPRICE_WINDOW_SIZE predictions and latencies, KOSPRICE_ANOMALY_HISTORY anomalies,
   KOSPRICE_DRIFT_WINDOW drift entries copied from a prediction the server recorded),
   measured with MEMORY USAGE on each key; and the server's CPU time per recording script
   (INFO commandstats, which other clients of the same server may blur a little).

Starts a private redis-server (Debian's `redis-server`) so no other client blurs the
server-side numbers. The machine may be shared: the wall-clock rate is only indicative.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psutil
import redis
import requests

from kosprice.features import REGIONS
from kosprice.monitoring.redis_store import RedisStore
from kosprice.monitoring.store import Observation
from kosprice.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.factories import LISTING  # noqa: E402  (the listing the tests post: one copy)


def serve(tmp: Path, redis_url: str, prefix: str) -> tuple[subprocess.Popen, str]:
    port = 20000 + os.getpid() % 20000
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("KOSPRICE_")},
           "HOST": "127.0.0.1", "PORT": str(port), "KOSPRICE_WORKERS": "1",
           "KOSPRICE_REDIS_URL": redis_url, "KOSPRICE_STORE_PREFIX": prefix,
           "KOSPRICE_LOG_DIR": str(tmp / "logs"), "KOSPRICE_STATE_DIR": str(tmp / "state"),
           "PROMETHEUS_MULTIPROC_DIR": str(tmp / "prometheus")}
    (tmp / "prometheus").mkdir()
    process = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-c",
                                "deploy/gunicorn.conf.py", "wsgi:app"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/ready", timeout=1).status_code == 200:
                return process, url
        except requests.RequestException:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("gunicorn did not become ready")


def throughput(url: str, seconds: float, threads: int = 2) -> float:
    counts = [0] * threads
    deadline = time.monotonic() + seconds

    def client(i: int) -> None:
        with requests.Session() as session:
            while time.monotonic() < deadline:
                region = REGIONS[counts[i] % len(REGIONS)]
                response = session.post(f"{url}/predict/{region}", json=LISTING, timeout=30)
                response.raise_for_status()
                counts[i] += 1

    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / seconds


def rss_mib(process: subprocess.Popen) -> tuple[float, list[float]]:
    master = psutil.Process(process.pid)
    return (master.memory_info().rss / 2**20,
            [child.memory_info().rss / 2**20 for child in master.children()])


def evalsha_stats(client: redis.Redis) -> tuple[int, int]:
    stats = client.info("commandstats").get("cmdstat_evalsha", {"calls": 0, "usec": 0})
    return stats["calls"], stats["usec"]


def fill_one_region(redis_url: str, prefix: str, drift: str | None) -> tuple[int, float, float]:
    """Record a full window into one region (with `drift`, a real prediction's drift
    slots); return its bytes, the server's microseconds per recording script, and the
    client's recordings per second (one connection)."""
    defaults = Settings.from_env({})
    store = RedisStore(redis_url, prefix, defaults.window_size, defaults.anomaly_history,
                       timeout=5.0, drift_window=defaults.drift_window)
    region = REGIONS[0]
    calls_before, usec_before = evalsha_stats(store.client)
    started = time.perf_counter()
    count = max(defaults.window_size, defaults.drift_window)
    for i in range(count):  # fill every ring; an anomaly every 50th
        anomalies = ("iqr_outlier",) if i % 50 == 0 else ()
        store.record(Observation.single(region, str(uuid.uuid4()), time.time(), 200,
                                        3.0 + (i % 97) / 10, "v1.0.0", 1_234_567.89 + i,
                                        anomalies, drift=drift))
    rate = count / (time.perf_counter() - started)
    calls, usec = evalsha_stats(store.client)
    client = store.client
    keys = [*store.keys(region), *store.drift_keys(region)]
    size = sum(client.memory_usage(key, samples=0) or 0 for key in keys)
    return size, (usec - usec_before) / max(1, calls - calls_before), rate


def private_redis(tmp: Path) -> tuple[subprocess.Popen, str]:
    binary = shutil.which("redis-server")
    if not binary:
        raise SystemExit("redis-server is not installed (Debian package redis-server)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save",
                                "", "--appendonly", "no", "--dir", str(tmp)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            redis.Redis.from_url(url).ping()
            return process, url
        except redis.ConnectionError:
            time.sleep(0.1)
    raise SystemExit("redis-server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    prefix = f"kosprice-capacity-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        redis_process, redis_url = private_redis(Path(tmp))
        try:
            measure(Path(tmp), redis_url, prefix, args.seconds)
        finally:
            redis_process.terminate()
            redis_process.wait(30)


def measure(tmp: Path, redis_url: str, prefix: str, seconds: float) -> None:
    process, url = serve(tmp, redis_url, prefix)
    try:
        throughput(url, 1.0)  # every region answers once: models and pools loaded
        worker = psutil.Process(process.pid).children()[0]
        cpu_before = sum(worker.cpu_times()[:2])
        rate = throughput(url, seconds)
        cpu_share = (sum(worker.cpu_times()[:2]) - cpu_before) / seconds
        master, workers = rss_mib(process)
    finally:
        process.terminate()
        process.wait(60)
    print(f"one Gunicorn worker, 2 client threads, Redis store: {rate:.0f} predictions/s "
          f"using {cpu_share:.2f} of a CPU: {rate / cpu_share:.0f} per CPU-second "
          f"({1000 * cpu_share / rate:.1f} ms of CPU per prediction)")
    print(f"RSS: master {master:.0f} MiB, worker {', '.join(f'{w:.0f}' for w in workers)} MiB")
    served = RedisStore(redis_url, prefix, 1, 1, timeout=5.0)
    sample = served.client.lindex(served.drift_keys(REGIONS[0])[1], 0)
    per_region, usec, calls = fill_one_region(redis_url, f"{prefix}-fill",
                                              sample.decode() if sample else None)
    print(f"Redis, one region filled to the default windows: {per_region / 1024:.0f} KiB "
          f"(x{len(REGIONS)} regions: {per_region * len(REGIONS) / 2**20:.2f} MiB)")
    print(f"Recording script: {usec:.1f} us of Redis CPU per call (INFO commandstats); "
          f"{calls:.0f} calls/s from one client connection")


if __name__ == "__main__":
    main()
