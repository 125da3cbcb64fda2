"""The list of settings is generated from the manifests and kept in deploy/SETTINGS.md; the environment for running
without Docker (deploy/local-servers.env) starts every command of every service in production; each command asks
only for what it uses."""
from __future__ import annotations

import secrets
import shlex
from pathlib import Path

import pytest

from services.cli import portal_services
from services.settings import SettingsError, for_command
from services.settings_doc import render

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = {manifest.name: manifest for manifest in portal_services()}


def read_env_file(path: Path, *, filled: bool = True) -> dict[str, str]:
    """The file's variables; `filled`: every CHANGE_ME replaced by a generated value, as the file tells people to
    (the services refuse the placeholders themselves: see the test below)."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            value = " ".join(shlex.split(value))
            values[name.strip()] = secrets.token_urlsafe(32) if filled and "CHANGE_ME" in value else value
    return values


def commands(manifest) -> list[str]:
    return ["web", "migrate"] + (["worker", "health"] if manifest.has_worker else []) + list(manifest.commands)


def load_for(manifest, command: str, environ: dict[str, str], monkeypatch):
    monkeypatch.setattr("os.environ", environ)
    with for_command(command):
        return manifest.load_settings()


def test_the_settings_reference_is_generated_from_the_manifests():
    assert (ROOT / "deploy" / "SETTINGS.md").read_text(encoding="utf-8") == render(MANIFESTS.values()), \
        "deploy/SETTINGS.md is stale: .venv/bin/assmat settings > deploy/SETTINGS.md"


@pytest.mark.parametrize("name,command", [(name, command) for name, manifest in MANIFESTS.items()
                                          for command in commands(manifest)])
def test_every_command_starts_in_production_on_the_example_environment(name, command, monkeypatch):
    environ = read_env_file(ROOT / "deploy" / "local-servers.env")
    settings = load_for(MANIFESTS[name], command, environ, monkeypatch)
    assert not settings.is_local
    if MANIFESTS[name].migrations is not None:
        assert settings.database_url.startswith("postgresql://")


def test_the_placeholders_left_in_the_example_environment_stop_start_up_naming_them(monkeypatch):
    environ = read_env_file(ROOT / "deploy" / "local-servers.env", filled=False)
    with pytest.raises(SettingsError, match="GATEWAY_SECRET_KEY") as error:
        load_for(MANIFESTS["gateway"], "web", environ, monkeypatch)
    assert "CHANGE_ME" not in str(error.value)  # named, never echoed
    environ.pop("ASSMAT_ENV")  # forgetting ASSMAT_ENV is no way round it: production is the default
    with pytest.raises(SettingsError, match="GATEWAY_SECRET_KEY"):
        load_for(MANIFESTS["gateway"], "web", environ, monkeypatch)


@pytest.mark.parametrize("name", [name for name, manifest in MANIFESTS.items() if manifest.migrations])
def test_a_production_command_without_its_database_url_is_refused_naming_it(name, monkeypatch):
    environ = read_env_file(ROOT / "deploy" / "local-servers.env")
    del environ[f"{name.upper()}_DATABASE_URL"]
    with pytest.raises(SettingsError, match=f"{name.upper()}_DATABASE_URL"):
        load_for(MANIFESTS[name], "migrate", environ, monkeypatch)


def test_each_command_asks_only_for_what_it_uses(monkeypatch):
    environ = read_env_file(ROOT / "deploy" / "local-servers.env")
    del environ["BROKER_URL"], environ["NOTIFY_MAIL_URL"]
    # The web process writes events to its outbox and never talks to the broker; notify's web sends no mail.
    assert load_for(MANIFESTS["fiche"], "web", environ, monkeypatch).broker_url == ""
    assert load_for(MANIFESTS["notify"], "web", environ, monkeypatch).mail_url == ""
    # migrate declares the bus queues: it needs the broker; only notify's worker needs the mail server.
    with pytest.raises(SettingsError, match="BROKER_URL"):
        load_for(MANIFESTS["geo"], "migrate", environ, monkeypatch)
    environ["BROKER_URL"] = "amqp://guest:guest@127.0.0.1:5672/%2F"
    assert load_for(MANIFESTS["notify"], "migrate", environ, monkeypatch).mail_url == ""
    with pytest.raises(SettingsError, match="NOTIFY_MAIL_URL"):
        load_for(MANIFESTS["notify"], "worker", environ, monkeypatch)
