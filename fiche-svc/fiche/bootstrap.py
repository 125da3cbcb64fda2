"""The one place that wires fiche-svc: the kernel's container is all it needs."""
from __future__ import annotations

from fiche.settings import Settings
from services.bootstrap import ServiceContainer


def bootstrap(settings: Settings) -> ServiceContainer:
    return ServiceContainer.from_settings(settings)
