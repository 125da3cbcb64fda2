"""The production compose file keeps the promises the services rely on.

No Docker engine is needed: deploy/docker-compose.yml is read as data, its ${...} references are filled from
deploy/example.env the way compose fills them, and each service's own settings loader runs on the environment its
container would get, with ASSMAT_ENV=production enforcing every secret.
"""
from __future__ import annotations

import importlib
import json
import os
import re
import secrets
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from services.bus import Bus
from services.settings import SettingsError

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BACKENDS = ("identity", "agrement", "fiche", "geo", "notify")
FOLDERS = {"identity": "identity", "agrement": "agrement-svc", "fiche": "fiche-svc", "geo": "geo-svc",
           "notify": "notify-svc", "gateway": "gateway"}
APP_SERVICES = [f"{package}-{role}" for package in BACKENDS for role in ("migrate", "web", "worker")] + ["gateway"]
REFERENCE = re.compile(r"\$\{(?P<name>\w+)(?::(?P<op>[-?])(?P<arg>[^}]*))?\}")
URL_SAFE = re.compile(r"[A-Za-z0-9._~-]+")


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            values[name.strip()] = value
    return values


def interpolate(value, env: dict[str, str]):
    """compose's ${NAME}, ${NAME:-default} and ${NAME:?message}, applied to every string of a parsed file."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def fill(match: re.Match) -> str:
        current = env.get(match["name"], "")
        if not current and match["op"] == "?":
            raise AssertionError(f"compose would refuse to start: {match['name']}: {match['arg']}")
        return current or (match["arg"] if match["op"] == "-" else "")

    return REFERENCE.sub(fill, value)


@pytest.fixture(scope="module")
def raw_example_env() -> dict[str, str]:
    return read_env_file(DEPLOY / "example.env")


@pytest.fixture(scope="module")
def example_env(raw_example_env) -> dict[str, str]:
    """example.env as an operator fills it: every CHANGE_ME replaced by a generated value."""
    return {name: secrets.token_urlsafe(32) if "CHANGE_ME" in value else value
            for name, value in raw_example_env.items()}


@pytest.fixture(scope="module")
def services(example_env) -> dict:
    return interpolate(yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8")),
                       example_env)["services"]


def package_of(service: dict) -> str:
    return service["image"].split("/")[1].split(":")[0]  # "assmat/geo:latest" -> "geo"


def test_each_service_opens_its_own_database_and_no_other(services, example_env):
    for package in BACKENDS:
        for role in ("migrate", "web", "worker"):
            environment = services[f"{package}-{role}"]["environment"]
            own = f"{package.upper()}_DATABASE_URL"
            url = urlsplit(environment[own])
            assert (url.scheme, url.hostname, url.port, url.username, url.path) == \
                ("postgresql", "postgres", 5432, package, f"/{package}")
            assert url.password == example_env[f"{package.upper()}_DB_PASSWORD"]
            assert [name for name in environment if name.endswith("_DATABASE_URL")] == [own]
    assert not [name for name in services["gateway"]["environment"] if name.endswith("_DATABASE_URL")]


def test_the_init_script_makes_a_database_and_a_role_for_exactly_these_services(services):
    script = (DEPLOY / "postgres" / "init-databases.sh").read_text(encoding="utf-8")
    assert re.search(r"^for service in (.+); do$", script, re.MULTILINE)[1].split() == list(BACKENDS)
    postgres = services["postgres"]
    assert "./postgres/init-databases.sh:/docker-entrypoint-initdb.d/init-databases.sh:ro" in postgres["volumes"]
    assert {f"{package.upper()}_DB_PASSWORD" for package in BACKENDS} <= set(postgres["environment"])


def test_web_and_worker_start_after_their_own_migration(services):
    for package in BACKENDS:
        migrate, web, worker = (services[f"{package}-{role}"] for role in ("migrate", "web", "worker"))
        assert migrate["command"] == ["python", "-m", package, "migrate"]
        assert migrate["restart"] == "no"
        assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
        assert worker["command"] == ["python", "-m", package, "worker"]
        assert "command" not in web  # the image's own command: gunicorn
        for started in (web, worker):
            assert started["depends_on"] == {
                f"{package}-migrate": {"condition": "service_completed_successfully"},
                "rabbitmq": {"condition": "service_healthy"}}
            assert started["restart"] == "unless-stopped"
        assert migrate["image"] == web["image"] == worker["image"]


def test_every_web_server_and_both_servers_have_a_healthcheck(services):
    for name in [f"{package}-web" for package in BACKENDS] + ["gateway"]:
        assert "http://127.0.0.1:8000/healthz" in " ".join(services[name]["healthcheck"]["test"])
    for name in ("postgres", "rabbitmq"):
        assert services[name]["healthcheck"]["test"]


def test_only_the_gateway_is_reachable_from_outside_the_host(services, example_env):
    published = {name: service["ports"] for name, service in services.items() if service.get("ports")}
    assert published.pop("gateway") == [f"{example_env['GATEWAY_PUBLISH']}:8000"]
    for name, ports in published.items():  # staging helpers only, on the loopback
        assert services[name].get("profiles"), name
        assert all(port.startswith("127.0.0.1:") for port in ports), name


def test_the_notify_worker_scales_on_its_own(services, example_env):
    worker = services["notify-worker"]
    assert str(worker["deploy"]["replicas"]) == example_env["NOTIFY_WORKER_REPLICAS"]
    assert "ports" not in worker
    assert not [name for name, service in services.items() if "container_name" in service]  # forbids --scale


@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_service_starts_in_production_on_its_compose_environment(services, name, monkeypatch):
    service = services[name]
    package = package_of(service)
    environment = {key: str(value) for key, value in service["environment"].items()}
    monkeypatch.syspath_prepend(str(ROOT / FOLDERS[package]))
    monkeypatch.setattr(os, "environ", environment)

    settings = importlib.import_module(f"{package}.settings").load_settings()

    assert settings.environment == "production" and not settings.is_local
    if package == "gateway":
        assert settings.secret_key == environment["GATEWAY_SECRET_KEY"]
        assert "BROKER_URL" not in environment
    else:
        assert settings.broker_url.startswith("amqp://")
        assert settings.database_url == environment[f"{package.upper()}_DATABASE_URL"]
    if package == "notify":
        assert settings.mail_url == environment["NOTIFY_MAIL_URL"]


def test_services_find_each_other_by_their_compose_names(services):
    gateway = services["gateway"]["environment"]
    for package in BACKENDS:
        assert gateway[f"GATEWAY_{package.upper()}_URL"] == f"http://{package}-web:8000"
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        assert environment["IDENTITY_JWKS_URL"] == "http://identity-web:8000/.well-known/jwks.json"
        if "BROKER_URL" in environment:
            assert urlsplit(environment["BROKER_URL"]).hostname == "rabbitmq"


def test_broker_definitions_match_what_the_services_declare(services):
    definitions = json.loads((DEPLOY / "rabbitmq" / "definitions.json").read_text(encoding="utf-8"))
    vhost = urlsplit(services["geo-worker"]["environment"]["BROKER_URL"]).path.lstrip("/")
    assert [entry["name"] for entry in definitions["vhosts"]] == [vhost]
    bus = Bus("amqp://unused", "assmat")  # the default namespace the services run with
    # Declared exactly as the kernel declares them (an exchange declared with other arguments is refused), and no
    # policy: the kernel bounds its dead-letter queues itself, refusing rather than dropping the oldest.
    declared = [{key: exchange[key] for key in ("name", "type", "durable", "arguments")}
                for exchange in definitions["exchanges"]]
    for exchange in (bus.exchange, bus.unroutable_exchange):
        assert {"name": exchange.name, "type": exchange.type, "durable": True,
                "arguments": exchange.arguments or {}} in declared
    assert "policies" not in definitions
    app_user = "${RABBITMQ_APP_USER}"
    assert {"user": app_user, "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"} in \
        definitions["permissions"]


def render_definitions(tmp_path: Path, environment: dict[str, str]) -> subprocess.CompletedProcess:
    """Runs deploy/rabbitmq/entrypoint.sh with its container paths moved under tmp_path, stopping before RabbitMQ."""
    script = (DEPLOY / "rabbitmq" / "entrypoint.sh").read_text(encoding="utf-8")
    script = (script.replace("/etc/rabbitmq/", f"{tmp_path}/").replace("chown ", ": ")
              .replace("exec docker-entrypoint.sh", "exit 0 #"))
    (tmp_path / "definitions.template.json").write_text(
        (DEPLOY / "rabbitmq" / "definitions.json").read_text(encoding="utf-8"), encoding="utf-8")
    return subprocess.run(["sh", "-c", script, "entrypoint"], env={"PATH": os.environ["PATH"], **environment},
                          capture_output=True, text=True)


def test_the_broker_users_come_from_the_environment(services, tmp_path):
    environment = services["rabbitmq"]["environment"]
    assert render_definitions(tmp_path, environment).returncode == 0
    users = json.loads((tmp_path / "definitions.json").read_text(encoding="utf-8"))["users"]
    assert {(user["name"], user["password"]) for user in users} == {
        (environment["RABBITMQ_APP_USER"], environment["RABBITMQ_APP_PASSWORD"]),
        (environment["RABBITMQ_ADMIN_USER"], environment["RABBITMQ_ADMIN_PASSWORD"])}
    broker = urlsplit(services["notify-worker"]["environment"]["BROKER_URL"])
    assert (broker.username, broker.password) == \
        (environment["RABBITMQ_APP_USER"], environment["RABBITMQ_APP_PASSWORD"])


def test_the_broker_refuses_a_password_that_would_break_the_url(services, tmp_path):
    result = render_definitions(tmp_path, {**services["rabbitmq"]["environment"], "RABBITMQ_APP_PASSWORD": 'a"b@c'})
    assert result.returncode == 1
    assert "RABBITMQ_APP_PASSWORD" in result.stderr
    assert not (tmp_path / "definitions.json").exists()


def test_example_env_lists_exactly_what_the_compose_file_reads(raw_example_env):
    referenced = {match["name"] for match in REFERENCE.finditer((DEPLOY / "docker-compose.yml").read_text())}
    assert referenced == set(raw_example_env) - {"COMPOSE_PROFILES"}  # read by compose itself
    secret_names = [name for name in raw_example_env if "PASSWORD" in name or "SECRET" in name]
    assert secret_names and all("CHANGE_ME" in raw_example_env[name] for name in secret_names)
    for name in secret_names + ["RABBITMQ_APP_USER", "RABBITMQ_ADMIN_USER"]:  # they go into URLs unescaped
        assert URL_SAFE.fullmatch(raw_example_env[name]), name


@pytest.mark.parametrize("name", ["gateway", "identity-web", "notify-worker"])
def test_a_service_left_on_the_example_placeholders_refuses_to_start(raw_example_env, name, monkeypatch):
    services = interpolate(yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8")),
                           raw_example_env)["services"]
    service = services[name]
    package = package_of(service)
    monkeypatch.syspath_prepend(str(ROOT / FOLDERS[package]))
    monkeypatch.setattr(os, "environ", {key: str(value) for key, value in service["environment"].items()})
    with pytest.raises(SettingsError, match="placeholder") as error:
        importlib.import_module(f"{package}.settings").load_settings()
    assert "CHANGE_ME" not in str(error.value)


def test_the_gateway_keeps_its_sessions_in_the_password_protected_redis(services, example_env):
    gateway, redis = services["gateway"], services["redis"]
    assert gateway["environment"]["GATEWAY_STORE_URL"] == f"redis://:{example_env['REDIS_PASSWORD']}@redis:6379/0"
    assert gateway["depends_on"]["redis"] == {"condition": "service_healthy"}
    assert example_env["REDIS_PASSWORD"] in redis["command"] and "ports" not in redis
    assert redis["healthcheck"]["test"]


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """deploy/Dockerfile as its stages, each a list of (INSTRUCTION, arguments), continuations joined, comments out."""
    stages, logical = [], ""
    for line in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if not logical and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            logical += line[:-1]
            continue
        keyword, _, arguments = (logical + line).strip().partition(" ")
        logical = ""
        if keyword.upper() == "FROM":
            stages.append([])
        stages[-1].append((keyword.upper(), arguments.strip()))
    return stages


def expand(word: str, stage: list[tuple[str, str]], args: dict[str, str]) -> str:
    """The Dockerfile's ${NAME}, ${NAME:?} and $NAME, filled from the build arguments the stage declares (a stage sees
    no other); a missing one stops the build."""
    declared = {arguments for keyword, arguments in stage if keyword == "ARG"}

    def fill(match: re.Match) -> str:
        name = match["braced"] or match["bare"]
        assert name in declared and args.get(name), f"the build would stop: {name} is not set"
        return args[name]

    return re.sub(r"\$(?:\{(?P<braced>\w+)(?::\?[^}]*)?\}|(?P<bare>\w+))", fill, word)


def build_args(services) -> dict[str, dict[str, str]]:
    """package -> the build arguments of the compose service that builds its image."""
    return {package_of(service): service["build"]["args"] for service in services.values() if "build" in service}


def test_each_image_is_built_from_the_one_dockerfile_with_its_own_folder_and_package(services):
    built = [name for name, service in services.items() if "build" in service]
    for name in built:
        service = services[name]
        package = package_of(service)
        assert service["image"].startswith(f"assmat/{package}:"), name
        assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile",
                                    "args": {"SERVICE_FOLDER": FOLDERS[package], "PACKAGE": package}}, name
        assert (ROOT / FOLDERS[package] / "pyproject.toml").is_file(), name
    assert sorted(package_of(services[name]) for name in built) == sorted(FOLDERS)  # one image per service, built once
    assert not [folder for folder in FOLDERS.values() if (ROOT / folder / "Dockerfile").exists()]  # one recipe only


def test_the_dockerfile_installs_the_kernel_before_the_service(services):
    build, _ = dockerfile_stages()
    assert build[0] == ("FROM", "python:3.11-slim AS build")
    steps = [f"{keyword} {arguments}" for keyword, arguments in build]
    kernel = steps.index("RUN pip install /src/services")
    assert steps.index("COPY services /src/services") < kernel
    # The service's folder is an argument only after the kernel is installed: the layers up to the kernel do not
    # depend on it, so they stay cached, and are shared by the six images.
    assert [step for step in steps[:kernel + 1] if step.startswith("ARG ")] == []
    assert "ARG SERVICE_FOLDER" in steps[kernel + 1:]
    [copy] = [arguments for keyword, arguments in build[kernel + 1:] if keyword == "COPY"]
    [install] = [arguments for keyword, arguments in build[kernel + 1:] if arguments.startswith("pip install ")]
    for package, args in build_args(services).items():
        folder = FOLDERS[package]
        assert expand(copy, build, args) == f"{folder} /src/{folder}"
        assert expand(install, build, args) == f"pip install /src/{folder}"
    with pytest.raises(AssertionError, match="SERVICE_FOLDER"):  # a build without the argument stops
        expand(copy, build, {"PACKAGE": "fiche"})


def test_the_runtime_stage_serves_the_package_as_a_plain_user(services, tmp_path):
    _, runtime = dockerfile_stages()
    assert runtime[0] == ("FROM", "python:3.11-slim")
    keywords = [keyword for keyword, _ in runtime]
    copies = [arguments for keyword, arguments in runtime if keyword == "COPY"]
    assert copies == ["--from=build /opt/venv /opt/venv", "deploy/gunicorn.conf.py /etc/assmat/gunicorn.conf.py"]
    [useradd] = [step for step in runtime if step[0] == "RUN" and "useradd" in step[1]]
    assert "--uid 10001" in useradd[1] and useradd[1].split()[-1] == "app"
    assert keywords.count("USER") == 1 and runtime.index(("USER", "app")) > runtime.index(useradd)
    assert keywords[-1] == "CMD" and "ENTRYPOINT" not in keywords  # compose's `command:` replaces it whole

    # The package is a build argument kept as ENV, and the exec-form CMD hands it to gunicorn through `sh -c`.
    [env] = [arguments for keyword, arguments in runtime if keyword == "ENV" and arguments.startswith("PACKAGE=")]
    shell, flag, script = json.loads(runtime[-1][1])
    assert (shell, flag) == ("sh", "-c") and script.startswith("exec gunicorn ")
    gunicorn = tmp_path / "gunicorn"  # stands in for gunicorn: prints the arguments it was given
    gunicorn.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n', encoding="utf-8")
    gunicorn.chmod(0o755)
    for package, args in build_args(services).items():
        name, _, value = expand(env, runtime, args).partition("=")
        assert (name, value) == ("PACKAGE", package)
        result = subprocess.run([shell, flag, script], env={"PATH": f"{tmp_path}:{os.environ['PATH']}", name: value},
                                capture_output=True, text=True, check=True)
        assert result.stdout.splitlines() == ["--config", "/etc/assmat/gunicorn.conf.py", "--bind", "0.0.0.0:8000",
                                              "--workers", "2", "--threads", "4", f"{package}:create_app()"]


def test_the_harness_compose_file_offers_what_testing_py_expects():
    harness = yaml.safe_load((DEPLOY / "docker-compose.test.yml").read_text(encoding="utf-8"))["services"]
    assert set(harness) == {"postgres", "rabbitmq", "redis"}  # redis: the real_redis fixture
    assert harness["postgres"]["environment"] == {"POSTGRES_PASSWORD": "postgres"}  # postgres:postgres
    assert "environment" not in harness["rabbitmq"]  # the image's guest:guest
    assert harness["postgres"]["ports"] == ["127.0.0.1::5432"]
    assert harness["rabbitmq"]["ports"] == ["127.0.0.1::5672"]
    assert harness["redis"]["ports"] == ["127.0.0.1::6379"]
    assert all(service["healthcheck"]["test"] for service in harness.values())  # `up --wait` waits on them


def test_every_worker_has_a_healthcheck_that_reads_its_status(services):
    for name, service in services.items():
        if name.endswith("-worker"):
            assert service["healthcheck"]["test"] == ["CMD-SHELL", 'python -m "$$PACKAGE" health'], name
