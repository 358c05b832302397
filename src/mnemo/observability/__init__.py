"""What an operator sees of a running mnemo: Prometheus metrics, structured logs, request ids.

Below ``storage`` and ``providers`` (which record into it) and above ``domain``; it knows no settings: the
processes configure it (:func:`configure_logging`, :func:`mnemo.observability.metrics.disable`).
"""

from __future__ import annotations

from mnemo.observability import metrics
from mnemo.observability.context import WorkContext, annotate, bound, current
from mnemo.observability.logs import LogFormat, access_logger, configure_logging

__all__ = [
    "LogFormat",
    "WorkContext",
    "access_logger",
    "annotate",
    "bound",
    "configure_logging",
    "current",
    "metrics",
]
