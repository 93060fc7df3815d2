"""One error shape for every status and route:

    {"error": {"code": "...", "message": "...", "details": {...}, "request_id": "..."}}

Tracebacks and exception text stay in the server's logs.
"""

from __future__ import annotations

import math

import marshmallow
from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from kosprice.api.context import current_request_id
from kosprice.errors import KospriceError, StoreUnavailableError
from kosprice.logging import get_logger

log = get_logger("kosprice.api")

_CODES = {
    400: "malformed_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}
_GENERIC_5XX = "The server encountered an internal error."


def error_response(status: int, code: str, message: str, details: dict | None = None) -> Response:
    response = jsonify(error={"code": code, "message": message, "details": details or {},
                              "request_id": current_request_id()})
    response.status_code = status
    return response


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status == 500:
        return _unexpected(exc)
    code = _CODES.get(status) or exc.name.lower().replace(" ", "_").replace("'", "")
    message = _GENERIC_5XX if status > 500 else exc.description or exc.name
    allowed = sorted(exc.valid_methods or ()) if status == 405 else []
    response = error_response(status, code, message,
                              {"allowed_methods": allowed} if allowed else None)
    for name, value in exc.get_headers():  # Allow, WWW-Authenticate, Retry-After, ...
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _store_unavailable(exc: StoreUnavailableError) -> Response:
    """503 that says what is unavailable (its message names no internals) and when to retry."""
    log.warning("monitor read refused: store unavailable", error_code=exc.code)
    response = error_response(exc.status, exc.code, exc.message, exc.details)
    retry_after = exc.details.get("retry_after_s") or 1
    response.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return response


def _kosprice_error(exc: KospriceError) -> Response:
    if isinstance(exc, StoreUnavailableError):
        return _store_unavailable(exc)
    if exc.status >= 500:
        # A server-side failure's message may name paths or internals: log it, don't send it.
        log.error("request failed", error_code=exc.code, exc_info=exc)
        return error_response(exc.status, exc.code, _GENERIC_5XX)
    return error_response(exc.status, exc.code, exc.message, exc.details)


MAX_FIELDS = 20
"""Most fields named in a 422: a body of 1,500 unknown keys must not echo 1,500 keys."""
MAX_NAME = 64
MAX_MESSAGES = 5


def capped_fields(messages: dict) -> tuple[dict, int]:
    """The first MAX_FIELDS fields, names and message lists cut short; how many were left out."""
    fields = {}
    for name, problems in list(messages.items())[:MAX_FIELDS]:
        name = str(name)
        if len(name) > MAX_NAME:
            name = name[:MAX_NAME] + "…"
        if isinstance(problems, list):
            problems = [str(p)[:200] for p in problems[:MAX_MESSAGES]]
        elif isinstance(problems, dict):  # nested schemas: not ours today, keep it bounded
            problems = capped_fields(problems)[0]
        else:
            problems = str(problems)[:200]
        fields[name] = problems
    return fields, max(0, len(messages) - MAX_FIELDS)


def _validation_error(exc: marshmallow.ValidationError) -> Response:
    messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
    fields, left_out = capped_fields(messages)
    details: dict = {"fields": fields}
    if left_out:
        details["truncated"] = left_out
    return error_response(422, "validation_error", "The listing is invalid.", details)


def _unexpected(exc: Exception) -> Response:
    original = getattr(exc, "original_exception", None) or exc
    log.error("unhandled error", exc_info=original)
    return error_response(500, "internal_error", _GENERIC_5XX)


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(KospriceError, _kosprice_error)
    app.register_error_handler(marshmallow.ValidationError, _validation_error)
    app.register_error_handler(Exception, _unexpected)
