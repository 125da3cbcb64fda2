"""The one place that wires geo-svc: the kernel's container is all it needs."""
from __future__ import annotations

from geo.settings import Settings
from services.bootstrap import ServiceContainer


def bootstrap(settings: Settings) -> ServiceContainer:
    return ServiceContainer.from_settings(settings)
