"""Per-request context: the request ID, bound into every log line of the request."""

from __future__ import annotations

import re
import uuid

import structlog
from flask import Flask, Response, g, request

REQUEST_ID_HEADER = "X-Request-ID"
_WELL_FORMED = re.compile(r"[A-Za-z0-9._-]{1,128}")


def request_id_from(header: str | None) -> str:
    """Trust a client's request ID only when it is well formed; otherwise make one."""
    # fullmatch: `$` would let a trailing newline through into the response header.
    if header and _WELL_FORMED.fullmatch(header):
        return header
    return str(uuid.uuid4())


def current_request_id() -> str:
    """This request's ID, decided once (also for requests that fail before any view runs)."""
    if "request_id" not in g:
        g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
    return g.request_id


def init_app(app: Flask) -> None:
    @app.before_request
    def bind_request_id() -> None:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=current_request_id())

    @app.after_request
    def echo_request_id(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = current_request_id()
        return response

    @app.teardown_request
    def unbind(_exc) -> None:
        structlog.contextvars.clear_contextvars()
