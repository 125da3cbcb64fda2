"""Typed settings read once from the environment.

Each service declares a frozen dataclass deriving from `BaseSettings`; `load(cls, service)` fills it from the
environment. A field named `database_url` in the identity service is read from `IDENTITY_DATABASE_URL`; fields
marked `shared=True` (broker, JWKS...) are read without the prefix (`BROKER_URL`).

Settings fail closed: a process started without `ASSMAT_ENV` runs as production (`assmat run` sets `local`, the
test harness `test`), so forgetting the variable on a server can never turn its secrets off. Outside local runs a
field marked `secret=True` must be set, and set to something that is not a placeholder: a key (a value that is not
a URL) of at least 32 characters with none of the words example files use ("changeme", "secret", "example",
"xxx"...), and no such word as the password of a URL. Start-up stops with a message naming the variable.
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import os
import typing
from pathlib import Path
from urllib.parse import unquote, urlsplit

LOCAL_ENVIRONMENTS = {"local", "test"}
# Without ASSMAT_ENV a process is production: the safe side (secrets enforced, Secure cookies, no mail sink).
DEFAULT_ENVIRONMENT = "production"
SECRET_KEY_MIN_LENGTH = 32
# Words that mark a value copied from an example rather than generated; compared without case and punctuation.
PLACEHOLDER_WORDS = ("changeme", "secret", "example", "placeholder", "password", "motdepasse", "replaceme",
                     "dummy", "default")
# Short ones occur by chance in a random key (about 1 in 6,000 for "xxx"): they count only in a value of few
# distinct characters, which a generated key of 32+ characters never is.
SHORT_PLACEHOLDER_WORDS = ("xxx", "todo", "abc", "123")
TYPED_DISTINCT_CHARACTERS = 12


class SettingsError(RuntimeError):
    """A setting is missing or malformed; the message names the variable."""


def setting(default=dataclasses.MISSING, *, shared: bool = False, secret: bool = False, env: str | None = None,
            help: str = "", needed_by: typing.Iterable[str] | None = None):
    """Declare a settings field. `secret` fields have a local default but must be set outside local runs, by the
    processes in `needed_by` (command names: web, worker, migrate...; None: every process), so that a command is
    never refused for a setting it does not use."""
    return dataclasses.field(default=default, metadata={
        "shared": shared, "secret": secret, "env": env, "help": help,
        "needed_by": frozenset(needed_by) if needed_by is not None else None})


# The command being started (`python -m geo migrate` -> "migrate"), set by services.runtime around load_settings:
# each service's load_settings() keeps its simple signature while `load` asks only for what that command uses.
_command: contextvars.ContextVar[str | None] = contextvars.ContextVar("assmat_command", default=None)


@contextlib.contextmanager
def for_command(command: str | None):
    token = _command.set(command)
    try:
        yield
    finally:
        _command.reset(token)


def current_command() -> str | None:
    """The command whose settings are being loaded (None: a library call, which gets everything checked)."""
    return _command.get()


def required_by(field: dataclasses.Field, command: str | None) -> bool:
    needed_by = field.metadata.get("needed_by")
    return command is None or needed_by is None or command in needed_by


@dataclasses.dataclass(frozen=True)
class BaseSettings:
    environment: str = setting(DEFAULT_ENVIRONMENT, shared=True, env="ASSMAT_ENV",
                               help="local | test | production; unset means production: anything but local/test "
                                    "enforces secrets (set, 32+ characters, no placeholder)")
    broker_url: str = setting("", shared=True, secret=True, env="BROKER_URL", needed_by=("worker", "migrate"),
                              help="amqp://user:password@host:5672/vhost; sqlitebus:////abs/bus.sqlite3 locally")
    bus_namespace: str = setting("assmat", shared=True, env="BUS_NAMESPACE",
                                 help="prefix of the exchange and queue names; lets test runs share a broker")
    database_url: str = setting("", secret=True, help="postgresql://user:password@host:5432/db; sqlite:////abs/file "
                                                      "locally")
    log_level: str = setting("INFO", shared=True, env="LOG_LEVEL", help="DEBUG, INFO, WARNING or ERROR")
    log_format: str = setting("json", shared=True, env="LOG_FORMAT", help="json | text")
    identity_jwks_url: str = setting("http://127.0.0.1:8101/.well-known/jwks.json", shared=True,
                                     env="IDENTITY_JWKS_URL", help="where services fetch identity's public keys")
    token_issuer: str = setting("assmat-identity", shared=True, env="TOKEN_ISSUER", help="`iss` of the tokens identity signs")
    token_audience: str = setting("assmat-portal", shared=True, env="TOKEN_AUDIENCE", help="`aud` of the tokens identity signs")
    jwks_refresh_seconds: float = setting(300, shared=True, env="JWKS_REFRESH_SECONDS",
                                          help="identity's JWKS is fetched again once this old, so a removed key is "
                                               "refused within it; while identity fails the last good set is kept 3 "
                                               "intervals more, then every token is refused")
    outbox_poll_seconds: float = setting(0.2, shared=True, env="OUTBOX_POLL_SECONDS",
                                         help="how often an idle outbox relay looks for new events")
    outbox_retention_hours: float = setting(168, shared=True, env="OUTBOX_RETENTION_HOURS",
                                            help="sent events are deleted after this long (they carry personal data)")
    inbox_retention_hours: float = setting(720, shared=True, env="INBOX_RETENTION_HOURS",
                                           help="handled event ids are remembered this long, against redeliveries")
    consumer_retry_delays_ms: str = setting("500,2000,10000", shared=True, env="CONSUMER_RETRY_DELAYS_MS",
                                            help="backoff of each retry, comma separated")
    consumer_prefetch: int = setting(200, shared=True, env="CONSUMER_PREFETCH",
                                     help="messages the broker hands a worker ahead of its work")
    consumer_batch_size: int = setting(100, shared=True, env="CONSUMER_BATCH_SIZE",
                                       help="events handled in one database transaction when they are waiting")
    outbox_max_attempts: int = setting(10, shared=True, env="OUTBOX_MAX_ATTEMPTS",
                                       help="refusals by the broker before an outbox row is parked (see assmat dlq)")
    worker_status_seconds: float = setting(2.0, shared=True, env="WORKER_STATUS_SECONDS",
                                           help="how often a worker records that it is alive (readiness reads it)")

    @property
    def is_local(self) -> bool:
        return self.environment in LOCAL_ENVIRONMENTS

    @property
    def retry_delays_ms(self) -> list[int]:
        return [int(part) for part in self.consumer_retry_delays_ms.split(",") if part.strip()]


def env_name(service: str, field: dataclasses.Field) -> str:
    if field.metadata.get("env"):
        return field.metadata["env"]
    if field.metadata.get("shared"):
        return field.name.upper()
    return f"{service.upper().replace('-', '_')}_{field.name.upper()}"


def _convert(raw: str, kind, name: str):
    if kind in (str, "str"):
        return raw
    if kind in (bool, "bool"):
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off", ""}:
            return False
        raise SettingsError(f"{name}: expected a boolean (true/false), got {raw!r}")
    if kind in (int, "int"):
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"{name}: expected an integer, got {raw!r}") from None
    if kind in (float, "float"):
        try:
            return float(raw)
        except ValueError:
            raise SettingsError(f"{name}: expected a number, got {raw!r}") from None
    if kind in (Path, "Path"):
        return Path(raw)
    raise SettingsError(f"{name}: unsupported settings type {kind!r}")


T = typing.TypeVar("T", bound=BaseSettings)


def load(cls: type[T], service: str, environ: typing.Mapping[str, str] | None = None, **overrides) -> T:
    """Build `cls` from the environment. Raises SettingsError naming every missing required variable."""
    environ = os.environ if environ is None else environ
    command = _command.get()
    hints = typing.get_type_hints(cls)
    values: dict[str, typing.Any] = {}
    environment = environ.get("ASSMAT_ENV") or DEFAULT_ENVIRONMENT
    missing: list[str] = []
    weak: list[str] = []
    for field in dataclasses.fields(cls):
        if field.name in overrides:
            values[field.name] = overrides[field.name]
            continue
        name = env_name(service, field)
        raw = environ.get(name)
        if raw is None or raw == "":
            if (field.metadata.get("secret") and environment not in LOCAL_ENVIRONMENTS
                    and required_by(field, command)):
                missing.append(name)
                continue
            if field.default is dataclasses.MISSING:
                missing.append(name)
            continue
        if (field.metadata.get("secret") and environment not in LOCAL_ENVIRONMENTS
                and required_by(field, command)):
            reason = weak_secret_reason(raw)
            if reason:
                weak.append(f"{name} ({reason})")
        values[field.name] = _convert(raw, hints[field.name], name)
    problems = []
    if missing:
        problems.append(f"missing required setting(s) {', '.join(missing)}")
    if weak:
        problems.append(f"placeholder or weak secret(s) {', '.join(weak)}")
    if problems:
        raise SettingsError(
            f"{service}: {'; '.join(problems)} (environment {environment!r}"
            f"{', command ' + repr(command) if command else ''}); set them in the environment, secrets generated "
            "with python3 -c \"import secrets; print(secrets.token_urlsafe(32))\" "
            "(deploy/SETTINGS.md lists every setting of every process)")
    return cls(**values)


def _looks_like_placeholder(value: str) -> bool:
    folded = "".join(character for character in value.lower() if character.isalnum())
    if any(word in folded for word in PLACEHOLDER_WORDS) or len(set(value)) <= 2:  # "aaaa…", "abab…"
        return True
    return len(set(folded)) < TYPED_DISTINCT_CHARACTERS and any(word in folded for word in SHORT_PLACEHOLDER_WORDS)


def weak_secret_reason(raw: str) -> str | None:
    """Why a secret's value cannot be a real one (None: it may be). The value itself is never in the answer, so
    that the start-up error does not leak it into logs.

    A URL (database, broker, mail server, Redis) is judged by its password alone: trust or socket authentication
    has none, and a host name is no secret; a key is judged whole."""
    if "://" in raw:
        password = urlsplit(raw).password
        if password and _looks_like_placeholder(unquote(password)):
            return "its password is a placeholder"
        return None
    if len(raw) < SECRET_KEY_MIN_LENGTH:
        return f"shorter than {SECRET_KEY_MIN_LENGTH} characters"
    if _looks_like_placeholder(raw):
        return "a placeholder, not a generated value"
    return None
