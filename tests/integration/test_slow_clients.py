"""Idle and slow clients hold no worker: a normal prediction still answers at once.

With sync workers, two connections that sent nothing froze two workers until Gunicorn's
timeout killed them (31.8 s for /health), and four clients sending headers and one byte of a
500-byte body made a prediction time out. The threaded worker waits for clients in its event
loop and bounds the time a thread spends reading one request (kosprice/gunicorn_worker.py).
"""

from __future__ import annotations

import socket
import time

import pytest
import requests

from kosprice.gunicorn_worker import READ_TIMEOUT
from tests.factories import LISTING
from tests.servers import gunicorn

pytestmark = pytest.mark.gunicorn

WORKERS = 2
BAD_CLIENTS = 3 * WORKERS  # of each kind: idle, and slow


def slow_request(port: int) -> socket.socket:
    """Headers announcing a 500-byte body, then one byte of it, then nothing."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(b"POST /predict/yogyakarta HTTP/1.1\r\nHost: test\r\n"
                 b"Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{")
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


def test_idle_and_slow_clients_hold_no_worker(models_dir, tmp_path):
    with gunicorn(tmp_path, {"KOSPRICE_MODELS_DIR": str(models_dir)}, workers=WORKERS) as server:
        workers = sorted(server.worker_pids())
        opened = time.monotonic()
        idle = [socket.create_connection(("127.0.0.1", server.port), timeout=30)
                for _ in range(BAD_CLIENTS)]
        slow = [slow_request(server.port) for _ in range(BAD_CLIENTS)]

        latencies = []
        for _ in range(5):
            started = time.monotonic()
            response = requests.post(f"{server.url}/predict/yogyakarta", json=LISTING,
                                     timeout=30)
            latencies.append(time.monotonic() - started)
            assert response.status_code == 200
        assert time.monotonic() - opened < READ_TIMEOUT  # all of it while they were stalling
        # Within a second each, however the kernel spread the bad clients over the workers.
        assert max(latencies) < 1.0, latencies

        # Bounded: a stalled body gets 400 once the read deadline passes; a silent
        # connection is closed by the event loop.
        for sock in slow:
            assert read_until_closed(sock).startswith(b"HTTP/1.1 400")
            sock.close()
        assert time.monotonic() - opened < READ_TIMEOUT + 10
        for sock in idle:
            assert read_until_closed(sock) == b""
            sock.close()
        assert time.monotonic() - opened < READ_TIMEOUT + 10

        assert sorted(server.worker_pids()) == workers  # none was killed and replaced
        output = server.output()
    assert "WORKER TIMEOUT" not in output
    assert output.count("slow client: request not received in time") >= BAD_CLIENTS
