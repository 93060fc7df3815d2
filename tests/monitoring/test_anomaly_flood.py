"""One client cannot flood GET /anomaly-monitor/{region}'s recent list (through the app,
on the embedded store and on Redis): every anomaly is counted, each client holds at most
KOSPRICE_ANOMALY_RECENT_PER_CLIENT entries of the list, and entries name clients by a keyed
hash, never by address."""

from __future__ import annotations

import pytest

from kosprice.app import create_app
from kosprice.monitoring.clients import ClientHasher
from kosprice.settings import Settings
from tests.factories import LISTING

FLOODER = "203.0.113.7"
OTHERS = ("198.51.100.1", "198.51.100.2", "2001:db8::5")
KEY = "a-client-hash-key-for-tests"


def _settings(store: str, models_dir, tmp_path, request, **overrides) -> Settings:
    # Every prediction is below the configured floor: each one is an anomaly.
    options = {"models_dir": models_dir, "state_dir": tmp_path / "state",
               "log_dir": tmp_path / "logs", "client_hash_key": KEY,
               "price_limits": {"yogyakarta": (1e12, 2e12)}, **overrides}
    if store == "redis":
        options |= {"redis_url": request.getfixturevalue("redis_url"),
                    "store_prefix": request.getfixturevalue("store_prefix")}
    return Settings.from_env({}, **options)


@pytest.mark.parametrize("store", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def test_sixty_requests_from_one_client_leave_room_for_the_others(store, models_dir, tmp_path,
                                                                   request):
    app = create_app(_settings(store, models_dir, tmp_path, request))
    client = app.test_client()

    def predict(address: str) -> None:
        response = client.post("/predict/yogyakarta", json=LISTING,
                               environ_base={"REMOTE_ADDR": address})
        assert response.status_code == 200

    predict(OTHERS[0])
    for i in range(60):
        predict(FLOODER)
        if i == 30:
            predict(OTHERS[1])
    response = client.post("/predict/yogyakarta/batch", json={"listings": [LISTING] * 3},
                           environ_base={"REMOTE_ADDR": OTHERS[2]})
    assert response.status_code == 200
    predict(FLOODER)

    page = client.get("/anomaly-monitor/yogyakarta")
    body = page.json
    assert body["predictions"] == body["anomalous_predictions"] == 66
    assert body["by_kind"]["below_floor"] == 66
    assert body["unlisted"] == 56  # the flooder's 61 less the 5 listed
    assert (body["recent_capacity"], body["recent_per_client"]) == (50, 5)
    hashes = ClientHasher(KEY.encode())
    clients = [entry["client"] for entry in body["recent"]]
    assert clients.count(hashes.of(FLOODER)) == 5
    assert {hashes.of(address) for address in OTHERS} <= set(clients)
    assert len(clients) == 5 + 1 + 1 + 3
    assert not any(address in page.text for address in (FLOODER, *OTHERS))


def test_behind_a_trusted_proxy_the_forwarded_client_is_the_one_limited(models_dir, tmp_path,
                                                                        request):
    app = create_app(_settings("sqlite", models_dir, tmp_path, request, trusted_proxies=1,
                               anomaly_recent_per_client=2))
    client = app.test_client()
    for forwarded in [FLOODER] * 10 + list(OTHERS):
        client.post("/predict/yogyakarta", json=LISTING,
                    environ_base={"REMOTE_ADDR": "10.0.0.2"},
                    headers={"X-Forwarded-For": forwarded})
    body = client.get("/anomaly-monitor/yogyakarta").json
    hashes = ClientHasher(KEY.encode())
    assert [entry["client"] for entry in body["recent"]] == [
        *(hashes.of(address) for address in reversed(OTHERS)), hashes.of(FLOODER),
        hashes.of(FLOODER)]
    assert (body["anomalous_predictions"], body["unlisted"]) == (13, 8)


def test_without_a_configured_key_the_host_key_is_made_once_and_kept(models_dir, tmp_path,
                                                                     request):
    settings = _settings("sqlite", models_dir, tmp_path, request, client_hash_key=None)
    first = create_app(settings).test_client()
    first.post("/predict/yogyakarta", json=LISTING, environ_base={"REMOTE_ADDR": FLOODER})
    second = create_app(settings).test_client()  # another worker of the same host
    second.post("/predict/yogyakarta", json=LISTING, environ_base={"REMOTE_ADDR": FLOODER})
    recent = second.get("/anomaly-monitor/yogyakarta").json["recent"]
    key = (tmp_path / "state" / "client-hash.key").read_bytes()
    assert len(key) == 32 and key != KEY.encode()
    assert [entry["client"] for entry in recent] == [ClientHasher(key).of(FLOODER)] * 2
    assert (tmp_path / "state" / "client-hash.key").stat().st_mode & 0o077 == 0
