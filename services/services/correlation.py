"""The correlation id of the work in progress, carried across HTTP requests and events."""
from __future__ import annotations

import contextlib
import contextvars
import uuid

HEADER = "X-Correlation-ID"
_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)


def new_id() -> str:
    return uuid.uuid4().hex


def current() -> str | None:
    return _current.get()


def ensure() -> str:
    """The current id, creating one when the work started here (a CLI command, a scheduled job)."""
    value = _current.get()
    if value is None:
        value = new_id()
        _current.set(value)
    return value


@contextlib.contextmanager
def bound(correlation_id: str | None):
    token = _current.set(correlation_id or new_id())
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def sanitize(value: str | None) -> str | None:
    """Accept a caller's id only if it is short and plain, so it cannot forge log lines."""
    if not value or len(value) > 64:
        return None
    if not all(ch.isalnum() or ch in "-_." for ch in value):
        return None
    return value
