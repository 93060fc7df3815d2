"""Per-client rate limits on the prediction routes, in the same store as the monitors."""

from __future__ import annotations

import dataclasses

import pytest

from kosprice.app import create_app
from tests.factories import LISTING
from tests.functional.test_errors import assert_error


def client_of(settings, address: str = "203.0.113.7", **changes):
    app = create_app(dataclasses.replace(settings, **changes))
    return app.test_client(), {"REMOTE_ADDR": address}


def predict(client, environ, headers=None):
    return client.post("/predict/yogyakarta", json=LISTING, environ_base=environ,
                       headers=headers or {})


def test_off_by_default(settings):
    client, environ = client_of(settings)
    assert all(predict(client, environ).status_code == 200 for _ in range(8))


def test_over_the_limit_a_client_gets_429_in_the_envelope_with_retry_after(settings):
    client, environ = client_of(settings, rate_limit="3/minute")
    assert [predict(client, environ).status_code for _ in range(3)] == [200] * 3
    refused = predict(client, environ)
    error = assert_error(refused, 429, "too_many_requests")
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert error["details"] == {}
    # Other clients, and the routes that are not predictions, are not affected.
    assert predict(client, {"REMOTE_ADDR": "203.0.113.8"}).status_code == 200
    assert client.get("/health", environ_base=environ).status_code == 200
    assert client.get("/models", environ_base=environ).status_code == 200


def test_x_forwarded_for_is_ignored_without_a_trusted_proxy(settings):
    client, environ = client_of(settings, rate_limit="2/minute")
    codes = [predict(client, environ, {"X-Forwarded-For": f"198.51.100.{i}"}).status_code
             for i in range(4)]
    assert codes == [200, 200, 429, 429]  # a forged header buys no fresh allowance


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_allowance(settings):
    client, proxy = client_of(settings, rate_limit="2/minute", trusted_proxies=1)
    first = [predict(client, proxy, {"X-Forwarded-For": "198.51.100.1"}).status_code
             for _ in range(3)]
    other = predict(client, proxy, {"X-Forwarded-For": "198.51.100.2"}).status_code
    assert first == [200, 200, 429] and other == 200


def test_the_embedded_store_is_shared_by_the_workers_of_a_host(settings):
    """Two apps on one state directory stand for two Gunicorn workers."""
    one, environ = client_of(settings, rate_limit="4/minute")
    two, _ = client_of(settings, rate_limit="4/minute")
    codes = [predict(worker, environ).status_code for worker in (one, two, one, two, one)]
    assert codes == [200, 200, 200, 200, 429]
    assert (settings.state_dir / "ratelimit.sqlite3").exists()


@pytest.mark.redis
def test_with_redis_the_count_lives_in_redis(settings, redis_url, store_prefix):
    one, environ = client_of(settings, rate_limit="3/minute", redis_url=redis_url,
                             store_prefix=store_prefix)
    two, _ = client_of(settings, rate_limit="3/minute", redis_url=redis_url,
                       store_prefix=store_prefix)
    codes = [predict(worker, environ).status_code for worker in (one, two, one, two)]
    assert codes == [200, 200, 200, 429]
    assert not (settings.state_dir / "ratelimit.sqlite3").exists()


def test_an_unreachable_store_lets_predictions_through(settings, tmp_path):
    from tests.servers import free_port

    client, environ = client_of(settings, rate_limit="1/minute",
                                redis_url=f"redis://127.0.0.1:{free_port()}/0")
    assert [predict(client, environ).status_code for _ in range(3)] == [200] * 3
