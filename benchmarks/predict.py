"""`make bench`: kosprice against the framework's limit and plain scikit-learn, same run.

    make bench      # or: .venv/bin/python benchmarks/predict.py [--seconds 5 --rounds 3]

On loopback, under deploy/gunicorn.conf.py (whatever it says at run time), four servers:
  framework  Flask parsing the JSON body and answering a constant (the framework's limit)
  floor      plain Flask calling the region's model.pkl on a one-row DataFrame
  kosprice   the service: validation, Redis monitoring and JSON logging on
  quiet      the service with monitoring and the per-prediction log line off
`wrk` (8 connections) runs against each in alternating rounds, so a machine that slows down
mid-run slows all four alike; the medians and their ratios are printed per region. Eight, not
four: a gthread worker accepts greedily, and 4 kept-alive connections landed all on one of
the two workers in about half of the runs (the other idle; 400-475 req/s against
1,100-1,160 when split), so a region's figure depended on where wrk's connections fell.
Then in-process microbenchmarks of each stage of the predict path, batch throughput, and
the resident memory of each worker. These machines are shared and noisy: only ratios from
one run mean anything. Not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis  # noqa: E402

from benchmarks import report  # noqa: E402
from benchmarks import servers as http  # noqa: E402
from benchmarks.stages import BATCH, LISTING, batch_listings, stages  # noqa: E402
from kosprice.features import REGIONS  # noqa: E402

VARIANTS = {"framework": "benchmarks.apps:framework()", "floor": "benchmarks.apps:floor()",
            "kosprice": "wsgi:app", "quiet": "benchmarks.apps:kosprice_quiet()"}


def redis_url(tmp: Path) -> tuple[str, subprocess.Popen | None]:
    """The local Redis on 6379 when it answers, otherwise a throwaway redis-server."""
    url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_timeout=1).ping()
        return url, None
    except redis.RedisError:
        port = http.free_port()
        process = subprocess.Popen(["redis-server", "--port", str(port), "--save", "",
                                    "--appendonly", "no", "--dir", str(tmp)],
                                   stdout=subprocess.DEVNULL)
        url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(url, socket_timeout=1).ping()
                return url, process
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


def http_rounds(servers: dict, regions: list[str], args, tmp: Path) -> dict:
    """wrk rounds, alternating servers within each region and round: results[region][name]."""
    script = http.wrk_script(tmp, LISTING)
    results = {region: {name: [] for name in servers} for region in regions}
    for round_number in range(args.rounds):
        for region in regions:
            for name, server in servers.items():
                result = http.run_wrk(f"{server.url}/predict/{region}", script, args.seconds,
                                      args.connections)
                results[region][name].append(result)
        print(f"  round {round_number + 1}/{args.rounds} done", flush=True)
    return results


def http_batch(server: http.Server, regions: list[str], seconds: float) -> dict[str, float]:
    """Predictions/s inside one 1,000-item POST /predict/{region}/batch, per region."""
    body = {"listings": batch_listings(BATCH)}
    rates = {}
    for region in regions:
        server.post(f"/predict/{region}/batch", body)  # warm up
        timings, deadline = [], time.monotonic() + seconds
        while time.monotonic() < deadline or len(timings) < 3:
            started = time.perf_counter()
            server.post(f"/predict/{region}/batch", body)
            timings.append(time.perf_counter() - started)
        rates[region] = BATCH / statistics.median(timings)
    return rates


def store_failures(server: http.Server) -> int:
    """Recordings the server's workers failed or skipped (fail open): requests not monitored.

    Under heavy load a store call can outlast KOSPRICE_STORE_TIMEOUT; the monitor then skips
    the store for a while, and "kosprice" runs as fast as "quiet": the figures must say so.
    """
    with urllib.request.urlopen(server.url + "/metrics", timeout=30) as response:
        text = response.read().decode()
    return int(sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("kosprice_monitor_store_errors_total{")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5, help="length of one wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections")
    parser.add_argument("--stage-seconds", type=float, default=1.0,
                        help="time per in-process microbenchmark")
    parser.add_argument("--regions", nargs="+", default=list(REGIONS), choices=REGIONS)
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument("--skip-http", action="store_true", help="microbenchmarks only")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="kosprice-bench-") as tmp_name:
        tmp = Path(tmp_name)
        url, redis_process = redis_url(tmp)
        prefix = f"kosprice-bench-{int(time.time())}"
        servers: dict[str, http.Server] = {}
        try:
            print(report.machine(), flush=True)
            if not args.skip_http:
                env = {"KOSPRICE_MODELS_DIR": str(args.models_dir.resolve()),
                       "KOSPRICE_REDIS_URL": url, "KOSPRICE_STORE_PREFIX": prefix}
                servers = {name: http.Server(name, app, tmp, env).start()
                           for name, app in VARIANTS.items()}
                for server in servers.values():
                    server.wait_ready()
                print(f"wrk: {args.rounds} rounds x {len(servers)} servers x "
                      f"{len(args.regions)} regions x {args.seconds:.0f} s, "
                      f"{args.connections} connections", flush=True)
                results = http_rounds(servers, args.regions, args, tmp)
                print(report.http_table(results))
                print(f"kosprice: {store_failures(servers['kosprice']):,} store recordings "
                      "failed or skipped (fail open; those requests were not monitored)")
                print(report.rss_table({n: s.worker_rss_mib() for n, s in servers.items()}))
                try:
                    rates = http_batch(servers["kosprice"], args.regions, args.seconds)
                    print(report.batch_table(rates))
                except OSError as exc:
                    print(f"batch endpoint: not measured ({exc})")
            print(report.stage_table(stages(args.models_dir, url, args.stage_seconds, prefix)))
        finally:
            for server in servers.values():
                server.stop()
            client = redis.Redis.from_url(url)
            for key in client.scan_iter(f"{prefix}:*"):
                client.delete(key)
            if redis_process is not None:
                redis_process.terminate()
                redis_process.wait(10)


if __name__ == "__main__":
    main()
