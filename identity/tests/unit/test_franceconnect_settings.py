"""FranceConnect's settings fail closed outside local runs: an issuer needs its client id and a real secret, over
https; without an issuer nothing is asked."""
import pytest

from identity.settings import Settings, load_settings
from services.settings import SettingsError

BASE = {"ASSMAT_ENV": "production", "IDENTITY_DATABASE_URL": "postgresql://identity:Vh3kQ9zLw2Rt@db/identity",
        "BROKER_URL": "amqp://identity:Pz7mX4cNb8Yd@mq//"}


def load(monkeypatch, **environ):
    for name in ("FRANCECONNECT_ISSUER", "FRANCECONNECT_CLIENT_ID", "FRANCECONNECT_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {**BASE, **environ}.items():
        monkeypatch.setenv(name, value)
    return load_settings()


def test_without_an_issuer_franceconnect_is_off_and_needs_nothing(monkeypatch):
    settings = load(monkeypatch, FRANCECONNECT_CLIENT_SECRET="CHANGE_ME-franceconnect-client-secret")
    assert not settings.franceconnect_enabled


@pytest.mark.parametrize("environ, named", [
    ({"FRANCECONNECT_CLIENT_SECRET": "a-real-secret-of-some-length"}, "FRANCECONNECT_CLIENT_ID"),
    ({"FRANCECONNECT_CLIENT_ID": "client"}, "FRANCECONNECT_CLIENT_SECRET"),
    ({"FRANCECONNECT_CLIENT_ID": "client", "FRANCECONNECT_CLIENT_SECRET": "CHANGE_ME-franceconnect-client-secret"},
     "FRANCECONNECT_CLIENT_SECRET"),
    ({"FRANCECONNECT_CLIENT_ID": "client", "FRANCECONNECT_CLIENT_SECRET": "short"}, "FRANCECONNECT_CLIENT_SECRET"),
])
def test_an_issuer_outside_local_runs_needs_the_client_id_and_a_real_secret(monkeypatch, environ, named):
    with pytest.raises(SettingsError, match=named):
        load(monkeypatch, FRANCECONNECT_ISSUER="https://oidc.franceconnect.gouv.fr/api/v2", **environ)


def test_an_issuer_outside_local_runs_must_be_https(monkeypatch):
    with pytest.raises(SettingsError, match="https"):
        load(monkeypatch, FRANCECONNECT_ISSUER="http://oidc.franceconnect.gouv.fr/api/v2",
             FRANCECONNECT_CLIENT_ID="client", FRANCECONNECT_CLIENT_SECRET="a-real-secret-of-some-length")


def test_a_complete_configuration_is_accepted(monkeypatch):
    settings = load(monkeypatch, FRANCECONNECT_ISSUER="https://oidc.franceconnect.gouv.fr/api/v2",
                    FRANCECONNECT_CLIENT_ID="client", FRANCECONNECT_CLIENT_SECRET="a-real-secret-of-some-length")
    assert settings.franceconnect_enabled and isinstance(settings, Settings)


def test_local_runs_may_use_the_development_provider_over_http(monkeypatch):
    settings = load(monkeypatch, ASSMAT_ENV="local", FRANCECONNECT_ISSUER="http://127.0.0.1:8106")
    assert settings.franceconnect_enabled
