"""Who may call what: browsers of other origins (CORS), and the ops token.

- KOSPRICE_CORS_ORIGINS lists the origins whose pages may call the API (flask-cors); none
  by default, so browsers keep other origins out.
- With KOSPRICE_OPS_TOKEN set, the routes declared `access=OPS` (/models*, the monitors,
  /metrics) need `Authorization: Bearer`; predictions, /health, /ready, /docs and
  /openapi.json stay open.
"""

from __future__ import annotations

import hmac

from flask import Flask, request
from flask_cors import CORS
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
    if settings.cors_origins:
        CORS(app, origins=list(settings.cors_origins), max_age=600,
             allow_headers=["Content-Type", "Authorization", "X-Request-ID"],
             expose_headers=["X-Request-ID", "Retry-After"])
    if settings.ops_token:
        _require_ops_token(app, settings.ops_token)


def _require_ops_token(app: Flask, token: str) -> None:
    expected = token.encode("utf-8")

    @app.before_request
    def require_ops_token() -> None:
        declared = operation_of(app, request.endpoint)
        if declared is None or declared.access != OPS or request.method == "OPTIONS":
            return  # a CORS preflight never carries credentials
        # Constant time: how much of a guess matches must not show in the answer's timing.
        if not hmac.compare_digest(bearer_token(request.headers.get("Authorization")),
                                   expected):
            raise Unauthorized("A valid ops token is required: Authorization: Bearer <token>.",
                               www_authenticate=WWWAuthenticate("bearer", {"realm": "kosprice"}))
