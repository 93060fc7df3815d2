"""Who may call what: the ops token on the routes declared `access=OPS`.

Prediction routes, /health, /ready, /docs and /openapi.json stay open; with
KOSPRICE_OPS_TOKEN set, /models*, the monitors and /metrics need `Authorization: Bearer`.
"""

from __future__ import annotations

import hmac

from flask import Flask, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from kosprice.api.openapi import OPS, operation_of
from kosprice.settings import Settings


def bearer_token(header: str | None) -> bytes:
    """The token of an `Authorization: Bearer <token>` header, or b"" without one."""
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer":
        return b""
    # Werkzeug decodes headers as latin-1: every character maps back to one byte.
    return token.strip().encode("latin-1", "replace")


def init_app(app: Flask, settings: Settings) -> None:
    if not settings.ops_token:
        return
    expected = settings.ops_token.encode("utf-8")

    @app.before_request
    def require_ops_token() -> None:
        declared = operation_of(app, request.endpoint)
        if declared is None or declared.access != OPS:
            return
        # Constant time: how much of a guess matches must not show in the answer's timing.
        if not hmac.compare_digest(bearer_token(request.headers.get("Authorization")),
                                   expected):
            raise Unauthorized("A valid ops token is required: Authorization: Bearer <token>.",
                               www_authenticate=WWWAuthenticate("bearer", {"realm": "kosprice"}))
