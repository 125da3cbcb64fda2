"""The one place that wires the gateway: its settings, the clients of the services behind it, its clock."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from gateway.clients import Clients
from gateway.settings import Settings


@dataclass
class Container:
    settings: Settings
    clients: Clients
    clock: Callable[[], float] = field(default=time.time)  # session timeouts read it; tests move it
    sessions: Any = None  # the browser sessions' store interface, set by gateway.browser.init_app


def bootstrap(settings: Settings) -> Container:
    return Container(settings, Clients.build(settings))


def current() -> Container:
    """The container of the app serving the request."""
    return current_app.extensions["gateway"]
