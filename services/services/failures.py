"""Two kinds of failure, handled in opposite ways.

An infrastructure error says that something the work depends on is unavailable for now: the database or the broker
cannot be reached, a connection dropped, a timeout, SQLite's "database is locked", an HTTP service down. The event
is not at fault; retrying it later will succeed, so the consumer pauses and retries without limit and never
dead-letters it. Anything else an event causes is its own fault (poison): it is retried a few times through the
retry queues, then dead-lettered with `describe(error)`.

Code that knows better than these rules raises `InfrastructureError` (possibly `from` the original error).
"""
from __future__ import annotations

import errno
import re
import socket
import sqlite3


class InfrastructureError(Exception):
    """A dependency is unavailable; the same work will succeed once it is back."""


# errno values of sockets that failed because the other end, or the network, is not there.
_SOCKET_ERRNOS = frozenset({
    errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE, errno.ENOTCONN, errno.ETIMEDOUT,
    errno.EHOSTUNREACH, errno.EHOSTDOWN, errno.ENETUNREACH, errno.ENETDOWN, errno.ENETRESET, errno.EADDRNOTAVAIL,
    errno.EAGAIN,
})
# SQLite reports a busy or unreachable file and a mistake in a statement with the same exception class; only the
# first kind is infrastructure ("no such table" or a syntax error would fail again on every retry).
_SQLITE_TRANSIENT = re.compile(r"database is locked|database table is locked|is busy|disk i/o error|"
                               r"unable to open database|database or disk is full|readonly database", re.I)
_UNAVAILABLE_HTTP_STATUSES = frozenset({502, 503, 504})


def _infrastructure_classes() -> tuple[type[BaseException], ...]:
    classes: list[type[BaseException]] = [InfrastructureError, ConnectionError, TimeoutError, socket.gaierror,
                                          socket.herror]
    try:
        import sqlalchemy.exc as sa_exc
        classes += [sa_exc.InterfaceError, sa_exc.DisconnectionError, sa_exc.TimeoutError]
    except ImportError:  # pragma: no cover - sqlalchemy is a dependency of the kernel
        pass
    try:
        import amqp.exceptions
        import kombu.exceptions
        classes += [amqp.exceptions.ConnectionError, kombu.exceptions.OperationalError]
    except ImportError:  # pragma: no cover
        pass
    try:
        import requests
        classes += [requests.ConnectionError, requests.Timeout]
    except ImportError:  # pragma: no cover
        pass
    try:
        import psycopg
        classes += [psycopg.OperationalError, psycopg.InterfaceError]
    except ImportError:  # pragma: no cover
        pass
    return tuple(classes)


_CLASSES: tuple[type[BaseException], ...] | None = None


def _is_infrastructure(error: BaseException) -> bool:
    global _CLASSES
    if _CLASSES is None:
        _CLASSES = _infrastructure_classes()
    if isinstance(error, sqlite3.OperationalError):
        return bool(_SQLITE_TRANSIENT.search(str(error)))
    try:
        import sqlalchemy.exc as sa_exc
        if isinstance(error, sa_exc.OperationalError):
            original = getattr(error, "orig", None)
            if isinstance(original, sqlite3.OperationalError):
                return _is_infrastructure(original)
            return True  # PostgreSQL: connection lost, server shutting down, serialization failure, deadlock
    except ImportError:  # pragma: no cover
        pass
    if isinstance(error, _CLASSES):
        return True
    try:
        import requests
        if isinstance(error, requests.HTTPError) and error.response is not None:
            return error.response.status_code in _UNAVAILABLE_HTTP_STATUSES
    except ImportError:  # pragma: no cover
        pass
    # OSError last: it is also the base class of file errors (a missing file is no outage).
    return isinstance(error, OSError) and error.errno in _SOCKET_ERRNOS


def is_infrastructure_error(error: BaseException) -> bool:
    """True when `error`, or an error it was explicitly raised from (`raise ... from`), is an infrastructure error.
    Only the explicit cause counts: an error raised while handling another is not necessarily caused by it."""
    from services.db import ReadOnlyTransactionError
    if isinstance(error, ReadOnlyTransactionError):
        # A write attempted in a read-only session is a bug in the code, whatever SQLite said underneath.
        return False
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if _is_infrastructure(current):
            return True
        seen.add(id(current))
        current = current.__cause__
    return False


# SQLAlchemy appends the statement's bound values ("[parameters: ...]") and PostgreSQL a DETAIL line quoting the
# row ("Key (email)=(...) already exists"): both are event data, which must not reach logs or dead-letter headers.
_PARAMETERS = re.compile(r"\[parameters: .*?\](?=\s*(?:\(Background on this error|$))", re.S)
_DETAIL = re.compile(r"^\s*DETAIL:.*$\n?", re.M)


def describe(error: BaseException, limit: int = 2000) -> str:
    """`Type: message` for logs and dead letters, without SQL parameters or row details, at most `limit` chars."""
    text = str(error)
    text = _PARAMETERS.sub("[parameters hidden]", text)
    text = _DETAIL.sub("", text).strip()
    described = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return described if len(described) <= limit else described[: limit - 1] + "…"
