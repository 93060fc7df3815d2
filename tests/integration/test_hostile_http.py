"""Hostile HTTP against real Gunicorn over raw sockets: never a 5xx, always the envelope.

Broken chunk framing, chunked bodies over the limit, 1,000-deep JSON and malformed headers
reach whatever worker class deploy/gunicorn.conf.py configures. Each gets a 4xx in the error
envelope, a bounded JSON log line, and no 5xx in the metrics the alerts read.
"""

from __future__ import annotations

import json
import re
import socket

import pytest
import requests

from tests.factories import LISTING
from tests.servers import gunicorn

pytestmark = pytest.mark.gunicorn

BODY = json.dumps(LISTING).encode()


@pytest.fixture(scope="module")
def server(pristine_models, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    with gunicorn(tmp, {"KOSPRICE_MODELS_DIR": str(pristine_models)}, workers=2) as running:
        yield running


def exchange(server, raw: bytes, timeout: float = 10) -> tuple[int, dict, bytes]:
    """Send raw bytes, read until the server closes; return status, headers, body."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        try:
            sock.sendall(raw)
        except OSError:  # the server answered and closed before taking everything
            pass
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def chunked(*chunks: bytes) -> bytes:
    return (b"POST /predict/yogyakarta HTTP/1.1\r\nHost: t\r\nContent-Type: application/json"
            b"\r\nTransfer-Encoding: chunked\r\n\r\n" + b"".join(chunks))


def chunk(data: bytes, size: bytes | None = None, end: bytes = b"\r\n") -> bytes:
    return (size if size is not None else b"%x" % len(data)) + b"\r\n" + data + end


def assert_envelope(status: int, headers: dict, body: bytes, expected: int, code: str) -> None:
    assert status == expected, body[:300]
    assert headers["content-type"] == "application/json"
    assert headers["x-content-type-options"] == "nosniff"
    error = json.loads(body)["error"]
    assert error["code"] == code and error["request_id"] == headers["x-request-id"]
    assert len(body) < 4096


BROKEN_FRAMING = {
    "chunk size shorter than the data": chunked(chunk(BODY, b"5"), b"0\r\n\r\n"),
    "negative chunk size": chunked(chunk(BODY, b"-5"), b"0\r\n\r\n"),
    "0x-prefixed chunk size": chunked(chunk(BODY, b"0x10"), b"0\r\n\r\n"),
    "size followed by a space": chunked(chunk(BODY, b"%x " % len(BODY)), b"0\r\n\r\n"),
    "no CRLF after the chunk data": chunked(chunk(BODY, end=b""), b"0\r\n\r\n"),
    "client stops mid-chunk": chunked(b"%x\r\n" % (len(BODY) + 50), BODY),
}


@pytest.mark.parametrize("case", list(BROKEN_FRAMING))
def test_broken_chunk_framing_is_a_400(server, case):
    raw = BROKEN_FRAMING[case]
    if case == "client stops mid-chunk":  # half-close: the server sees the end of input
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
            data = b"".join(iter(lambda: sock.recv(65536), b""))
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split()[1])
        assert 400 <= status < 500, data[:300]
        return
    status, headers, body = exchange(server, raw)
    assert_envelope(status, headers, body, 400, "malformed_request")


def test_a_well_framed_chunked_listing_with_a_trailer_predicts(server):
    status, _, body = exchange(server, chunked(chunk(BODY), b"0\r\nX-Trailer: 1\r\n\r\n"))
    assert status == 200 and json.loads(body)["predicted_price"] > 0


def test_a_chunked_body_over_the_limit_is_a_413_not_cut_short(server):
    # Valid JSON at any cut: a listing followed by spaces. Cut at 16 KiB it would predict.
    padded = BODY + b" " * 40_000
    pieces = [chunk(padded[i:i + 4096]) for i in range(0, len(padded), 4096)]
    status, headers, body = exchange(server, chunked(*pieces, b"0\r\n\r\n"))
    assert_envelope(status, headers, body, 413, "payload_too_large")


def test_a_client_that_keeps_sending_still_reads_its_413(server):
    size = 4 * 1024 * 1024
    head = (b"POST /predict/yogyakarta HTTP/1.1\r\nHost: t\r\nContent-Type: application/json"
            b"\r\nContent-Length: %d\r\n\r\n" % size)
    status, headers, body = exchange(server, head + b" " * size)
    assert_envelope(status, headers, body, 413, "payload_too_large")


def test_json_nested_1000_deep_is_a_400(server):
    nested = b"[" * 1000 + b"]" * 1000
    raw = (b"POST /predict/yogyakarta HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
           b"Content-Length: %d\r\n\r\n" % len(nested) + nested)
    assert_envelope(*exchange(server, raw), 400, "malformed_request")


@pytest.mark.parametrize(("header", "expected"), [
    (b"X-Request-ID: a\rb", 400), (b"X-Request-ID: a\x00b", 400),
    (b"X-Request-ID: " + b"a" * 10_000, 431),
])
def test_headers_gunicorn_refuses_get_the_envelope_too(server, header, expected):
    raw = b"GET /health HTTP/1.1\r\nHost: t\r\n" + header + b"\r\n\r\n"
    status, headers, body = exchange(server, raw)
    assert status == expected
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["error"]["request_id"] == headers["x-request-id"]
    assert b"aaaa" not in body


def test_no_response_names_the_server_software(server):
    for method, path in [("GET", "/health"), ("GET", "/nope"), ("OPTIONS", "/health")]:
        response = requests.request(method, server.url + path, timeout=10)
        assert response.headers.get("Server") == "kosprice"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    options = requests.options(server.url + "/predict/yogyakarta", timeout=10)
    assert options.headers["Content-Type"] == "application/json"


def test_after_all_of_it_no_5xx_no_traceback_and_json_log_lines(server):
    """Runs last in this module: what the hostile requests above left behind."""
    metrics = requests.get(server.url + "/metrics", timeout=10).text
    statuses = set(re.findall(r'flask_http_request_total\{[^}]*status="(\d+)"', metrics))
    assert statuses and not {s for s in statuses if s.startswith("5")}, statuses
    output = server.output()
    assert "Traceback" not in output
    for line in output.splitlines():
        record = json.loads(line)
        assert isinstance(record, dict) and len(line) < 2048
        assert record.get("level") not in {"error", "critical"}, line
