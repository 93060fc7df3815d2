"""Structured JSON logs: structlog for kosprice, the same renderer for stdlib and Gunicorn.

Gunicorn's logger class, which routes its lines here, is kosprice.gunicorn_logging.

Configure once per process, before the app is built. Every line goes to stdout and to
`{log_dir}/kosprice.log`; ERROR and above also to `{log_dir}/error.log` with the traceback.
Tracebacks never leave the server: clients get the error envelope only.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import structlog


def add_pid(_logger, _method, event: dict) -> dict:
    """Name the process: with several Gunicorn workers, which one wrote the line matters."""
    event["pid"] = os.getpid()
    return event


_SHARED_PROCESSORS: list = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    add_pid,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.stdlib.ExtraAdder(),
]


def json_formatter() -> logging.Formatter:
    """Return the formatter that renders every record, ours or foreign, as one JSON line."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED_PROCESSORS,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(sort_keys=False, default=str),
        ],
    )


def configure(level: str = "INFO", log_dir: Path | None = None) -> None:
    """Route structlog and the stdlib root logger to stdout and the log files."""
    formatter = json_formatter()
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stdout)]
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_dir / "kosprice.log", encoding="utf-8"))
        errors = logging.FileHandler(log_dir / "error.log", encoding="utf-8")
        errors.setLevel(logging.ERROR)
        handlers.append(errors)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level)

    structlog.configure(
        processors=[*_SHARED_PROCESSORS[:-1],
                    structlog.processors.StackInfoRenderer(),
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def get_logger(name: str = "kosprice") -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)

