"""Gunicorn's own answers in kosprice's shape (Gunicorn only loads it, like gunicorn_logging).

Gunicorn answers some requests itself, before the app sees them — a header with a CR in it,
too many header bytes, a broken request line — as an HTML page, and names itself in every
`Server` header. `install()`, called by deploy/gunicorn.conf.py in the master before any
worker forks, makes those answers the JSON error envelope and the header `Server: kosprice`.
"""

from __future__ import annotations

import json
import uuid

from gunicorn import util
from gunicorn.http import wsgi

SERVER_HEADER = "kosprice"
GENERIC_5XX = "The server encountered an internal error."


def write_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """Gunicorn's `util.write_error`, answering in the envelope (never echoing `mesg`, which
    may quote the client's bytes)."""
    request_id = str(uuid.uuid4())
    code = reason.lower().replace(" ", "_") if status_int != 400 else "malformed_request"
    message = GENERIC_5XX if status_int >= 500 else f"{reason}: the request is malformed."
    body = json.dumps({"error": {"code": code, "message": message, "details": {},
                                 "request_id": request_id}}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"X-Request-ID: {request_id}\r\nX-Content-Type-Options: nosniff\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


def install() -> None:
    """Route Gunicorn's error answers and Server header through kosprice (idempotent)."""
    util.write_error = write_error
    wsgi.SERVER = SERVER_HEADER
