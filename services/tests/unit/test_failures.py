"""Which errors pause a consumer (infrastructure) and which ones dead-letter an event (poison); how errors are
described in logs and dead letters."""
import errno
import socket
import sqlite3

import amqp.exceptions
import kombu.exceptions
import pytest
import requests
import sqlalchemy as sa
import sqlalchemy.exc as sa_exc

from services.bus import BrokerUnavailable
from services.events import InvalidEvent
from services.failures import InfrastructureError, describe, is_infrastructure_error


def _wrapped(original: Exception, kind=sa_exc.OperationalError) -> Exception:
    return kind("INSERT INTO t (email) VALUES (?)", ("marie@example.fr",), original)


def _http_error(status: int) -> requests.HTTPError:
    response = requests.Response()
    response.status_code = status
    return requests.HTTPError(f"{status}", response=response)


@pytest.mark.parametrize("error", [
    InfrastructureError("geocoder down"),
    BrokerUnavailable("no confirm"),
    _wrapped(Exception("server closed the connection unexpectedly")),  # PostgreSQL gone
    _wrapped(sqlite3.OperationalError("database is locked")),
    sqlite3.OperationalError("database is locked"),
    sa_exc.InterfaceError("SELECT 1", None, Exception("connection already closed")),
    sa_exc.DisconnectionError("connection invalidated"),
    sa_exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"),
    ConnectionRefusedError(errno.ECONNREFUSED, "refused"),
    ConnectionResetError(),
    TimeoutError(),
    socket.timeout(),
    socket.gaierror(-2, "Name or service not known"),
    OSError(errno.EHOSTUNREACH, "No route to host"),
    amqp.exceptions.ConnectionForced("Too many heartbeats missed"),
    amqp.exceptions.RecoverableConnectionError("connection closed"),
    kombu.exceptions.OperationalError("[Errno 111] Connection refused"),
    requests.ConnectionError("refused"),
    requests.Timeout("read timed out"),
    _http_error(503),
], ids=lambda error: type(error).__name__)
def test_outages_are_infrastructure_errors(error):
    assert is_infrastructure_error(error)


@pytest.mark.parametrize("error", [
    ValueError("bad data"),
    KeyError("pmi_number"),
    InvalidEvent("event envelope lacks id"),
    _wrapped(sqlite3.IntegrityError("UNIQUE constraint failed"), sa_exc.IntegrityError),
    _wrapped(sqlite3.OperationalError("no such table: fiches")),  # a missing migration fails every time
    sqlite3.OperationalError("near \"SELEC\": syntax error"),
    FileNotFoundError(errno.ENOENT, "No such file or directory"),
    NotADirectoryError(errno.ENOTDIR, "Not a directory"),
    amqp.exceptions.PreconditionFailed("inequivalent arg"),
    _http_error(400),
], ids=lambda error: type(error).__name__)
def test_everything_else_is_the_events_own_fault(error):
    assert not is_infrastructure_error(error)


def test_an_error_raised_from_an_outage_is_an_outage_but_one_merely_raised_during_it_is_not():
    try:
        try:
            raise ConnectionResetError()
        except ConnectionResetError as outage:
            raise RuntimeError("could not geocode") from outage
    except RuntimeError as error:
        assert is_infrastructure_error(error)
    try:
        try:
            raise ConnectionResetError()
        except ConnectionResetError:
            raise ValueError("a bug in the error handling")
    except ValueError as error:
        assert not is_infrastructure_error(error)


def test_described_sqlalchemy_errors_keep_type_and_statement_but_no_parameters_nor_row_details():
    engine = sa.create_engine("sqlite://")
    table = sa.Table("accounts", sa.MetaData(), sa.Column("email", sa.String, primary_key=True))
    table.create(engine)
    with engine.begin() as connection:
        connection.execute(table.insert(), {"email": "marie.secret@example.fr"})
    with pytest.raises(sa_exc.IntegrityError) as caught, engine.begin() as connection:
        connection.execute(table.insert(), {"email": "marie.secret@example.fr"})
    assert "marie.secret" in str(caught.value), "SQLAlchemy prints the parameters"
    text = describe(caught.value)
    assert text.startswith("IntegrityError: (sqlite3.IntegrityError) UNIQUE constraint failed: accounts.email")
    assert "INSERT INTO accounts" in text and "marie.secret" not in text


def test_a_postgresql_detail_line_quoting_the_row_is_dropped():
    error = _wrapped(Exception('duplicate key value violates unique constraint "accounts_pkey"\n'
                               'DETAIL:  Key (email)=(marie.secret@example.fr) already exists.'),
                     sa_exc.IntegrityError)
    text = describe(error)
    assert 'duplicate key value violates unique constraint "accounts_pkey"' in text
    assert "marie.secret" not in text


def test_descriptions_are_bounded():
    assert len(describe(ValueError("x" * 10_000), limit=500)) == 500
    assert describe(KeyError()) == "KeyError"
