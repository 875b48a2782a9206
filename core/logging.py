"""Structured logs: JSON lines in production, readable lines in development.

Each record carries the request id and the swarm/task id of the work in hand, taken from
context variables that the request middleware and the execution bridge set.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("log_context", default=None)
CONTEXT_FIELDS = ("request_id", "swarm_id", "task_id")
# credentials a client may put in a URL (the WebSocket takes ?api_key= and ?token=): never logged
_CREDENTIAL_IN_QUERY = re.compile(
    r"([?&;](?:api_key|apikey|token|access_token|refresh_token|refresh|jwt)=)[^&;\s\"']*", re.IGNORECASE
)


def redact(text: str) -> str:
    return _CREDENTIAL_IN_QUERY.sub(r"\1[redacted]", text)


def redact_daphne_access_log() -> None:
    """daphne writes its access log itself (stdout, NCSA lines with each request's path and
    query), not through `logging`: its lines get the same redaction."""
    from daphne.access import AccessLogGenerator

    write_entry = AccessLogGenerator.write_entry
    if getattr(write_entry, "redacts", False):
        return

    @functools.wraps(write_entry)
    def redacting(self: Any, host: Any, date: Any, request: str, *args: Any, **kwargs: Any) -> Any:
        return write_entry(self, host, date, redact(request), *args, **kwargs)

    redacting.redacts = True  # type: ignore[attr-defined]
    AccessLogGenerator.write_entry = redacting


@contextlib.contextmanager
def log_context(**values: str | None) -> Iterator[None]:
    merged = {**(_context.get() or {}), **{k: v for k, v in values.items() if v}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


def current_context() -> dict[str, str]:
    return dict(_context.get() or {})


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get() or {}
        for field in CONTEXT_FIELDS:
            if not getattr(record, field, None):
                setattr(record, field, context.get(field, ""))
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for field in CONTEXT_FIELDS:
            value = getattr(record, field, "")
            if value:
                payload[field] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        ids = " ".join(
            f"{field.split('_')[0]}={getattr(record, field)}"
            for field in CONTEXT_FIELDS
            if getattr(record, field, "")
        )
        line = f"{stamp} {record.levelname:<7} {record.name}: {redact(record.getMessage())}"
        if ids:
            line += f"  [{ids}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line
