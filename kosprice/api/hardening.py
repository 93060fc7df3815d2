"""Client input never yields a 5xx, and every answer carries the same safe headers.

- The request body is read before any view, bounded by KOSPRICE_MAX_CONTENT_LENGTH also when
  it is chunked (Werkzeug alone cuts a chunked body at the limit and carries on): over it,
  413; broken chunk framing or a client that stops sending, 400; one bounded log line each.
- OPTIONS answers in JSON with the allowed methods (CORS preflights get their headers on top).
- Every response says `X-Content-Type-Options: nosniff`.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge

from kosprice.api.services import services
from kosprice.logging import get_logger

log = get_logger("kosprice.api")

_READ_SIZE = 64 * 1024
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _read_bounded(stream, limit: int) -> bytes:
    """Read at most `limit` bytes; raise RequestEntityTooLarge when more are coming."""
    chunks, size = [], 0
    while True:
        chunk = stream.read(min(_READ_SIZE, limit + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise RequestEntityTooLarge()


def read_body() -> None:
    """Read the whole body now, so a broken or oversized one is a 4xx before any view runs.

    A view may name the setting of its own limit in `body_limit_setting` (the batch route).
    """
    if request.method not in _BODY_METHODS or request.endpoint is None:
        return  # no view will read it (a 404/405 follows)
    own_limit = getattr(current_app.view_functions.get(request.endpoint),
                        "body_limit_setting", None)
    if own_limit is not None:
        request.max_content_length = getattr(services().settings, own_limit)
    limit = request.max_content_length
    try:
        if request.content_length is None and limit is not None:
            # Chunked (or no length at all): the server's own stream, not Werkzeug's
            # LimitedStream, which stops silently at the limit.
            data = _read_bounded(request.environ["wsgi.input"], limit)
            request._cached_data = data  # what get_data()/get_json() return from now on
        else:
            request.get_data(cache=True)
    except HTTPException:
        raise
    except Exception as exc:  # noqa: BLE001 - the server's body parser raises its own types
        # Bad chunk framing, a client gone mid-body: the client's fault, not ours. The
        # message is the exception's class only: bounded, and no request bytes in the log.
        log.warning("unreadable request body", error=type(exc).__name__)
        raise BadRequest("The request body could not be read (broken framing or the "
                         "client stopped sending).") from None


def options_response() -> Response:
    """OPTIONS: the allowed methods in JSON (Flask's default is an empty text/html)."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    methods = sorted(set(adapter.allowed_methods()) | {"OPTIONS"})
    response = jsonify(allowed_methods=methods)
    response.headers["Allow"] = ", ".join(methods)
    return response


def secure_headers(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def init_app(app: Flask) -> None:
    app.make_default_options_response = options_response
    app.before_request(read_body)
    app.after_request(secure_headers)
