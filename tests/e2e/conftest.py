"""End-to-end fixtures: a real multi-worker Gunicorn kosprice scraped by a real Prometheus."""

from __future__ import annotations

import pytest

from tests.promql import ROOT
from tests.servers import Prometheus, free_port, gunicorn, require_binary

ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"


@pytest.fixture(scope="module")
def e2e_tmp(tmp_path_factory):
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="module")
def kosprice(pristine_models, e2e_tmp):
    """Three Gunicorn workers on the shipped settings (embedded monitoring store), except
    that drift is reported from 20 predictions, so the test traffic makes it appear."""
    tmp = e2e_tmp / "healthy"
    tmp.mkdir()
    with gunicorn(tmp, {"KOSPRICE_MODELS_DIR": str(pristine_models),
                        "KOSPRICE_DRIFT_MIN_SAMPLE": "20"}, workers=3) as server:
        yield server


@pytest.fixture(scope="module")
def degraded_kosprice(pristine_models, e2e_tmp):
    """Two workers whose Redis never answers and whose yogyakarta limits flag every price.

    Metrics that appear only once something goes wrong (store errors, anomalies) show up here.
    """
    tmp = e2e_tmp / "degraded"
    tmp.mkdir()
    with gunicorn(tmp, {
        "KOSPRICE_MODELS_DIR": str(pristine_models),
        "KOSPRICE_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "KOSPRICE_PRICE_LIMITS": '{"yogyakarta": [0, 1]}',
    }, workers=2) as server:
        yield server


@pytest.fixture(scope="module")
def prometheus(kosprice, e2e_tmp):
    """Prometheus scraping the healthy server every second, with the shipped alert rules."""
    require_binary("prometheus", "prometheus")
    server = Prometheus(e2e_tmp, [f"127.0.0.1:{kosprice.port}"], rule_files=[ALERTS]).start()
    yield server
    server.stop()
