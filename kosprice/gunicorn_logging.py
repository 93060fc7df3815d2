"""Gunicorn's logger, re-routed through kosprice's JSON logging (Gunicorn only loads it).

`deploy/gunicorn.conf.py` names it as `logger_class`; nothing else in kosprice imports
gunicorn, so the library layers stay usable without it.
"""

from __future__ import annotations

from gunicorn.glogging import Logger

from kosprice.logging import configure
from kosprice.settings import Settings


class GunicornLogger(Logger):
    """Gunicorn's logger, re-routed through the root logger so its lines are JSON too."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        settings = Settings.from_env()
        configure(settings.log_level, settings.log_dir)
        for log in (self.error_log, self.access_log):
            for handler in list(log.handlers):
                log.removeHandler(handler)
            log.propagate = True

    def access(self, resp, req, environ, request_time) -> None:
        """Log one structured line per request, without query string or bodies."""
        if not self.access_log_enabled:
            return
        headers = dict(resp.headers) if hasattr(resp, "headers") else {}
        request_id = next((v for k, v in headers.items() if k.lower() == "x-request-id"), None)
        self.access_log.info("access", extra={
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "status": int(str(resp.status).split()[0]) if resp.status else None,
            "duration_ms": round(request_time.total_seconds() * 1000, 3),
            "response_bytes": getattr(resp, "sent", None),
            "remote_addr": environ.get("REMOTE_ADDR"),
            "request_id": request_id,
        })
