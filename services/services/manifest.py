"""A service declared in one place: what it consumes and publishes, its routes, commands, settings and container.

Each service has `<package>/service.py` with `MANIFEST = ServiceManifest(...)` and names it in its pyproject:

    [project.entry-points."assmat.services"]
    geo = "geo.service:MANIFEST"

From the manifest the kernel derives the web app (`create_app`), the worker (`services.worker.run_worker`), the
command line (`services.runtime.run_manifest_cli`: web | worker | migrate | health | the service's own verbs), the
queue and its bindings (declared by `migrate`), the list of settings each process reads (`assmat settings`), and
what `assmat run` starts. Manifests are found through entry points, so the kernel never imports a service.

A manifest holds no I/O: importing `service.py` must not connect to anything.
"""
from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import entry_points
from typing import Any

from services.catalogue import EventSpec
from services.settings import BaseSettings

ENTRY_POINT_GROUP = "assmat.services"

Command = Callable[[BaseSettings, list[str]], int]
# A task the worker runs beside its consumer until `stop` is set (a periodic sweep, a scheduled job).
BackgroundTask = Callable[[Any, threading.Event], None]


@dataclasses.dataclass(frozen=True)
class FromContainer:
    """A handler that needs the service's container (a mail transport, a clock): built once the worker has it."""
    build: Callable[[Any], Callable]


@dataclasses.dataclass(frozen=True)
class Batch:
    """A handler of whole batches, `handler(uow, events)` (services.inbox.Subscription, `batch`): a projection that
    reads and writes a batch's rows in a few statements instead of a few per event. `handler` may be a
    FromContainer. Give the same Batch to every event type it handles, so that they come in one call."""
    handler: Callable | FromContainer


@dataclasses.dataclass(frozen=True)
class ServiceManifest:
    name: str                                   # package, settings prefix (GEO_...), queue name (ns.geo)
    folder: str                                 # its folder in the repository (geo-svc)
    summary: str                                # one line: what it owns
    settings: type[BaseSettings]
    load_settings: Callable[..., BaseSettings]  # reads the environment (a service may check more than types)
    container: Callable[[BaseSettings], Any]    # settings -> the one object that wires everything (bootstrap)
    blueprints: Callable[[], list] = lambda: []  # imported lazily: the worker needs no Flask routes
    # Projections keep the newest state of another service's aggregate: the kernel applies an event only if its
    # sequence is newer than the one applied (services.ordering). Reactions act on every event (send a mail).
    projections: Mapping[EventSpec, Callable | FromContainer | Batch] = dataclasses.field(default_factory=dict)
    reactions: Mapping[EventSpec, Callable | FromContainer | Batch] = dataclasses.field(default_factory=dict)
    publishes: tuple[EventSpec, ...] = ()
    commands: Mapping[str, Command] = dataclasses.field(default_factory=dict)
    background: tuple[BackgroundTask, ...] = ()
    # Run by the worker before it consumes (e.g. geo-svc fills its communes reference).
    before_consuming: tuple[Callable[[Any], None], ...] = ()
    migrations: str | None = None               # "geo:migrations"; None: the service keeps no database
    default_port: int = 8000
    has_worker: bool = True
    init_app: Callable[[Any, Any], None] | None = None  # (app, container): extra Flask wiring (the gateway's)
    readiness: Callable[[Any], Mapping[str, Callable[[], None]]] | None = None  # default: the container's

    def __post_init__(self):
        both = {spec.type for spec in self.projections} & {spec.type for spec in self.reactions}
        if both:
            raise ValueError(f"{self.name}: {sorted(both)} both projected and reacted to; choose one")

    @property
    def consumed_types(self) -> list[str]:
        return sorted({spec.type for spec in (*self.projections, *self.reactions)})

    def subscriptions(self, container) -> dict:
        """Event type -> services.inbox.Subscription, handlers that need the container built with it."""
        from services.inbox import Subscription

        built: dict[int, Callable] = {}  # one handler object per declared one: a batch handler groups by it

        def subscription(handler, ordered: bool) -> Subscription:
            batch = isinstance(handler, Batch)
            declared = handler.handler if batch else handler
            if id(declared) not in built:
                built[id(declared)] = (declared.build(container) if isinstance(declared, FromContainer)
                                       else declared)
            return Subscription(built[id(declared)], ordered=ordered, batch=batch)

        found = {spec.type: subscription(handler, True) for spec, handler in self.projections.items()}
        found.update({spec.type: subscription(handler, False) for spec, handler in self.reactions.items()})
        return found


def discover() -> dict[str, ServiceManifest]:
    """Every installed service's manifest, by name, in a stable order (the order `assmat run` starts them)."""
    found: dict[str, ServiceManifest] = {}
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        manifest = entry.load()
        if not isinstance(manifest, ServiceManifest):
            raise TypeError(f"entry point {entry.value} is not a ServiceManifest")
        found[manifest.name] = manifest
    return found


def consumers(manifests: Iterable[ServiceManifest]) -> dict[str, list[str]]:
    """Queue name -> the event types bound to it, for every service that consumes something."""
    return {m.name: m.consumed_types for m in manifests if m.consumed_types}


def worker_max_age(settings: BaseSettings) -> float:
    """How old a worker's last beat may be before it counts as gone: several beats, so one slow beat is no alarm."""
    return max(10.0, 4 * settings.worker_status_seconds)


def create_app(manifest: ServiceManifest, settings: BaseSettings | None = None, container=None):
    """The service's Flask app: its container, the kernel's plumbing (errors, correlation ids, probes), its routes.
    Tests may hand in a `container` they prepared."""
    from services.web import create_service_app

    if container is None:
        container = manifest.container(settings or manifest.load_settings())
    if manifest.readiness is not None:
        readiness = dict(manifest.readiness(container))
    else:
        readiness = dict(container.readiness())
        if manifest.has_worker:
            from services.health import worker_check
            # The worker consumes and relays; a web process whose worker is dead, paused or cut from the broker
            # answers requests whose effects go nowhere: say so (services/BACKBONE.md, worker status).
            readiness["worker"] = worker_check(container.session_factory, manifest.name,
                                               worker_max_age(container.settings))
    app = create_service_app(manifest.name, manifest.folder, container, manifest.blueprints(), readiness=readiness)
    if manifest.init_app is not None:
        manifest.init_app(app, container)
    return app
