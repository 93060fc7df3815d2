"""The JSON line formatter renders what structlog's ProcessorFormatter rendered."""

from __future__ import annotations

import json
import logging
import sys

import structlog

from kosprice.logging import _SHARED_PROCESSORS, JSONLineFormatter


def processor_formatter() -> logging.Formatter:
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED_PROCESSORS,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    structlog.processors.JSONRenderer(sort_keys=False, default=str)])


def without_timestamp(line: str) -> dict:
    fields = json.loads(line)
    assert fields.pop("timestamp")
    return fields


def failure_info():
    try:
        raise ValueError("boom")
    except ValueError:
        return sys.exc_info()


def foreign(**changes) -> logging.LogRecord:
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, "access %s",
                               ("line",), None)
    record.__dict__.update(changes)
    return record


def from_structlog(event: dict, exc_info=None) -> logging.LogRecord:
    (event,), kwargs = structlog.stdlib.ProcessorFormatter.wrap_for_formatter(
        logging.getLogger("kosprice.test"), "info", event)
    record = logging.LogRecord("kosprice.test", logging.INFO, __file__, 1, event, (), exc_info)
    record.__dict__.update(kwargs["extra"])
    return record


def test_foreign_lines_with_extras_and_tracebacks_render_alike():
    structlog.contextvars.bind_contextvars(request_id="bound")
    try:
        for changes in ({}, {"method": "POST", "request_id": "extra", "status": 200},
                        {"exc_info": failure_info()}):
            ours = JSONLineFormatter().format(foreign(**changes))
            theirs = processor_formatter().format(foreign(**changes))
            assert list(json.loads(ours)) == list(json.loads(theirs))
            assert without_timestamp(ours) == without_timestamp(theirs)
    finally:
        structlog.contextvars.clear_contextvars()


def test_structlog_lines_render_alike():
    event = {"event": "prediction", "status": 200, "anomalies": [], "level": "info",
             "timestamp": "2026-01-01T00:00:00Z", "exc_info": failure_info()}
    ours = JSONLineFormatter().format(from_structlog(dict(event)))
    assert ours == processor_formatter().format(from_structlog(dict(event)))
    assert "ValueError: boom" in json.loads(ours)["exception"]


def test_a_record_is_rendered_once_for_every_handler():
    record, formatter = foreign(), JSONLineFormatter()
    assert formatter.format(record) is formatter.format(record)
