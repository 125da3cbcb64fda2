"""The gates as every route calls them, on the request being served: the client's address comes from the request
(through the trusted proxies only), the throttle from the container.

    gates.check("login", login, captcha=body)   # body: the request's JSON, whose captcha_id / captcha_answer count
    ... the command, in its own transaction ...
    gates.record_failure("login", login)  /  gates.record_success("login", login, account_id=...)

Call them outside any open unit of work: on SQLite the store and the audit write through their own connections.
"""
from __future__ import annotations

from flask import g, request

from services.web import client_ip


def _container():
    from identity.web import current_container
    return current_container()


def client_address() -> str:
    if "client_address" not in g:
        g.client_address = client_ip(request, _container().trusted_proxies)
    return g.client_address


def check(action: str, identifier, captcha: dict | None = None, ip: str | None = None) -> None:
    captcha = captcha if isinstance(captcha, dict) else {}
    _container().throttle.check(action, identifier, ip or client_address(),
                                captcha_id=captcha.get("captcha_id"), captcha_answer=captcha.get("captcha_answer"))


def record_failure(action: str, identifier, ip: str | None = None, **fields) -> None:
    _container().throttle.record_failure(action, identifier, ip or client_address(), **fields)


def record_success(action: str, identifier, ip: str | None = None, **fields) -> None:
    _container().throttle.record_success(action, identifier, ip or client_address(), **fields)


def captcha_needed(action: str, identifier, ip: str | None = None) -> bool:
    return _container().throttle.captcha_needed(action, identifier, ip or client_address())
