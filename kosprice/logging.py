"""Structured JSON logs: structlog for kosprice, the same renderer for stdlib and Gunicorn.

Gunicorn's logger class, which routes its lines here, is kosprice.gunicorn_logging.

Configure once per process, before the app is built. Every line goes to stdout and to
`{log_dir}/kosprice.log`; ERROR and above also to `{log_dir}/error.log` with the traceback.
Tracebacks never leave the server: clients get the error envelope only.

Rotation: every Gunicorn worker appends to the same files, so no worker may rotate them (a
RotatingFileHandler per process rotates on its own count and loses the others' lines). Each
process writes through a WatchedFileHandler, which reopens the file once it has been renamed
(checked at most every ROTATION_CHECK_S, not before every line); one process only, the
Gunicorn master, renames them (LogRotator) with the standard library's rollover (file -> .1
-> .2 ...). A line written in between lands in `.1`: never lost.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import threading
import time
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


_RENDER_EXCEPTION = structlog.processors.format_exc_info
_RENDER_JSON = structlog.processors.JSONRenderer(sort_keys=False, default=str)


class JSONLineFormatter(logging.Formatter):
    """Render a record as one JSON line, once whatever the number of handlers writing it.

    The line is the one structlog's ProcessorFormatter renders with `_SHARED_PROCESSORS` as
    its foreign pre-chain, without what that costs per line and handler: ProcessorFormatter
    copies the whole LogRecord before rendering, then formats the copy once more through
    `logging.Formatter`. Every handler (stdout, kosprice.log, error.log) shares this
    formatter: the first one renders the line, the others reuse it.
    """

    def format(self, record: logging.LogRecord) -> str:
        line = record.__dict__.get("_kosprice_line")
        if line is None:
            line = record._kosprice_line = self.render(record)
        return line

    @staticmethod
    def render(record: logging.LogRecord) -> str:
        fields = record.__dict__
        if "_logger" in fields and "_name" in fields:
            # Logged through structlog (wrap_for_formatter): its processors already ran.
            method = fields["_name"]
            event = dict(record.msg)
        else:  # a stdlib or Gunicorn line: the shared processors, reading the record
            method = record.levelname.lower()
            event = {"event": record.getMessage(), "_record": record}
            if record.exc_info:
                event["exc_info"] = record.exc_info
            if record.stack_info:
                event["stack_info"] = record.stack_info
            for processor in _SHARED_PROCESSORS:
                event = processor(None, method, event)
            del event["_record"]
        return _RENDER_JSON(None, method, _RENDER_EXCEPTION(None, method, event))


def json_formatter() -> logging.Formatter:
    """Return the formatter that renders every record, ours or foreign, as one JSON line."""
    return JSONLineFormatter()


ROTATION_CHECK_S = 0.1
"""How often at most a writer looks for a renamed log file (LogRotator renames at most once
per its interval, 1 s by default, which must stay above this)."""


class WatchedFile(logging.handlers.WatchedFileHandler):
    """A WatchedFileHandler that stat()s its path at most every `check_interval` seconds
    instead of before every line: lines written in between still land in the renamed file
    (`.1`), as any line written between the rename and the check always did."""

    def __init__(self, filename: Path, check_interval: float = ROTATION_CHECK_S) -> None:
        super().__init__(filename, encoding="utf-8")
        self.check_interval = check_interval
        self.next_check = time.monotonic() + check_interval

    def reopenIfNeeded(self) -> None:  # noqa: N802 - the standard library's name
        now = time.monotonic()
        if now >= self.next_check:
            self.next_check = now + self.check_interval
            super().reopenIfNeeded()


def configure(level: str = "INFO", log_dir: Path | None = None) -> None:
    """Route structlog and the stdlib root logger to stdout and the log files."""
    formatter = json_formatter()
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stdout)]
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(WatchedFile(log_dir / "kosprice.log"))
        errors = WatchedFile(log_dir / "error.log")
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
    # No line shows the calling file and line, thread or process name (`pid` is add_pid's):
    # the standard library's documented switches stop it looking them up for every record
    # (findCaller walks the stack), which every request paid for its two lines.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False

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



LOG_FILES = ("kosprice.log", "error.log")


def rotate_if_large(log_dir: Path, max_bytes: int, backups: int) -> list[str]:
    """Roll over each log file of at least `max_bytes` (RotatingFileHandler's rollover: the
    file becomes `.1`, `.1` becomes `.2`..., beyond `backups` deleted); return those rotated.

    Call it from one process only; the writers' WatchedFileHandlers reopen by themselves.
    """
    rotated = []
    for name in LOG_FILES:
        path = log_dir / name
        try:
            if path.stat().st_size < max_bytes:
                continue
        except FileNotFoundError:
            continue
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", delay=True)
        try:
            handler.doRollover()
        finally:
            handler.close()
        rotated.append(name)
    return rotated


class LogRotator(threading.Thread):
    """Checks the log files' sizes every `interval` seconds and rotates them (one process)."""

    def __init__(self, log_dir: Path, max_bytes: int, backups: int,
                 interval: float = 1.0) -> None:
        super().__init__(name="kosprice-log-rotator", daemon=True)
        self.log_dir, self.max_bytes, self.backups = log_dir, max_bytes, backups
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                rotate_if_large(self.log_dir, self.max_bytes, self.backups)
            except OSError as exc:  # a full or read-only disk must not stop the master
                get_logger("kosprice.logging").warning(
                    "log rotation failed", error=f"{type(exc).__name__}: {exc}")

    def stop(self) -> None:
        self.stopped.set()
