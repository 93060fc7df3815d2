"""Several hosts, one truth: two kosprice instances (2 workers each, the shipped models)
share a real Redis Cluster behind a real HAProxy running deploy/haproxy/haproxy.cfg; a real
Prometheus scrapes both instances. Their measured RSS must fit the Kubernetes memory limit."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
import requests
import yaml

from kosprice.features import REGIONS
from tests.factories import LISTING
from tests.promql import ROOT
from tests.scrape import metric_total
from tests.servers import Gunicorn, Prometheus, free_port, require_binary, terminate, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.gunicorn]

N_PER_REGION = 15
N = N_PER_REGION * len(REGIONS)
HAPROXY_CONFIG = ROOT / "deploy" / "haproxy" / "haproxy.cfg"
K8S_DEPLOYMENT = ROOT / "deploy" / "k8s" / "base" / "deployment.yaml"


def k8s_container() -> dict:
    (container,) = yaml.safe_load(K8S_DEPLOYMENT.read_text())["spec"]["template"]["spec"][
        "containers"]
    return container


def k8s_workers() -> int:
    return int(next(e["value"] for e in k8s_container()["env"]
                    if e["name"] == "KOSPRICE_WORKERS"))


def haproxy_binary() -> str:
    # Debian installs it in /usr/sbin, which is not on every user's PATH.
    return shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin") or \
        require_binary("haproxy", "haproxy")


@pytest.fixture(scope="module")
def hosts(redis_cluster, tmp_path_factory):
    """Two instances on their own ports and directories, one cluster store."""
    env = {"KOSPRICE_MODELS_DIR": str(ROOT / "models"), "KOSPRICE_REDIS_MODE": "cluster",
           "KOSPRICE_REDIS_NODES": ",".join(f"{h}:{p}" for h, p in redis_cluster.addresses),
           "KOSPRICE_STORE_PREFIX": f"kosprice-test-{uuid.uuid4().hex[:12]}",
           "KOSPRICE_STORE_TIMEOUT": "1.0"}  # the store is not under test: no slow-machine misses
    servers = [Gunicorn(tmp_path_factory.mktemp(f"host-{i}"), env, workers=k8s_workers())
               for i in (1, 2)]
    try:
        for server in servers:  # boot both at once, then wait for both
            server.start(wait=False)
        for server in servers:
            wait_until(server.ready, timeout=90, what=f"gunicorn on {server.url}")
        yield servers
    finally:
        for server in servers:
            server.stop()


@pytest.fixture(scope="module")
def balancer(hosts, tmp_path_factory):
    port = free_port()
    env = {**os.environ, "LB_BIND": f"127.0.0.1:{port}",
           "API_1": f"127.0.0.1:{hosts[0].port}", "API_2": f"127.0.0.1:{hosts[1].port}"}
    log = (tmp_path_factory.mktemp("haproxy") / "haproxy.out").open("wb")
    process = subprocess.Popen([haproxy_binary(), "-db", "-f", str(HAPROXY_CONFIG)], env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        assert process.poll() is None, f"haproxy exited with {process.returncode}"
        try:
            return requests.get(f"{url}/ready", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_until(answers, timeout=30, what="haproxy")
        yield url
    finally:
        terminate(process, timeout=10)
        log.close()


@pytest.fixture(scope="module")
def traffic(balancer):
    """N predictions through the balancer, from 6 threads."""
    def predict(i: int) -> int:
        return requests.post(f"{balancer}/predict/{REGIONS[i % len(REGIONS)]}", json=LISTING,
                             timeout=30).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(predict, range(N)))
    assert statuses == [200] * N
    return N


def test_every_monitor_read_on_either_host_and_through_the_balancer_reports_n(
        traffic, hosts, balancer):
    for base in [host.url for host in hosts] + [balancer] * 4:  # the balancer alternates
        for region in REGIONS:
            monitor = requests.get(f"{base}/prediction-monitor/{region}", timeout=30).json()
            assert (monitor["count"], monitor["window"]["count"]) == (N_PER_REGION,) * 2, base
            anomalies = requests.get(f"{base}/anomaly-monitor/{region}", timeout=30).json()
            assert anomalies["predictions"] == N_PER_REGION, base
        latency = requests.get(f"{base}/latency-monitor", timeout=30).json()
        assert sum(r["requests"] for r in latency["regions"].values()) == traffic, base


def test_both_hosts_served_and_prometheus_scraping_both_sums_to_n(traffic, hosts,
                                                                  tmp_path_factory):
    own = [metric_total(requests.get(f"{host.url}/metrics", timeout=30).text,
                        "kosprice_predictions_total") for host in hosts]
    assert all(count > 0 for count in own) and sum(own) == traffic, own
    require_binary("prometheus", "prometheus")
    prometheus = Prometheus(tmp_path_factory.mktemp("prometheus-two-hosts"),
                            [f"127.0.0.1:{host.port}" for host in hosts]).start()
    try:
        def scraped_total():
            by_instance = prometheus.query('sum by (instance) (kosprice_predictions_total)')
            return len(by_instance) == 2 and by_instance
        by_instance = wait_until(scraped_total, timeout=60, what="a scrape of both hosts")
        assert sum(float(sample["value"][1]) for sample in by_instance) == traffic
        total = prometheus.query("sum(kosprice_predictions_total)")
        assert float(total[0]["value"][1]) == traffic
    finally:
        prometheus.stop()


def test_a_host_fits_the_kubernetes_memory_limit_even_while_reloading(traffic, hosts):
    """deploy/k8s sizes requests = limits from this: the master plus twice the workers (a
    reload starts the new workers while the old ones finish), not wildly oversized."""
    memory = k8s_container()["resources"]["limits"]["memory"]
    assert memory.endswith("Mi") or memory.endswith("Gi")
    limit = int(memory[:-2]) * (2**20 if memory.endswith("Mi") else 2**30)
    for host in hosts:
        master = psutil.Process(host.process.pid)
        workers = master.children()
        assert len(workers) == k8s_workers()
        master_rss = master.memory_info().rss
        worker_rss = max(worker.memory_info().rss for worker in workers)
        needed = master_rss + 2 * len(workers) * worker_rss
        print(f"\nRSS: master {master_rss / 2**20:.0f} MiB, worker {worker_rss / 2**20:.0f} "
              f"MiB; a reload needs {needed / 2**20:.0f} MiB of the {memory} limit")
        assert needed <= limit <= 2 * needed
