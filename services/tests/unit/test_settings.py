from dataclasses import dataclass

import pytest

from services.settings import BaseSettings, SettingsError, load, setting


@dataclass(frozen=True)
class DemoSettings(BaseSettings):
    port: int = setting(8100)
    ratio: float = setting(0.5)
    enabled: bool = setting(False)


def test_fields_are_read_with_the_service_prefix_and_shared_names_without():
    settings = load(DemoSettings, "fiche", {"FICHE_PORT": "9001", "FICHE_DATABASE_URL": "sqlite:///x",
                                            "BROKER_URL": "amqp://b", "FICHE_ENABLED": "yes", "FICHE_RATIO": "0.25"})
    assert (settings.port, settings.database_url, settings.broker_url) == (9001, "sqlite:///x", "amqp://b")
    assert settings.enabled is True and settings.ratio == 0.25
    assert settings.is_local


def test_outside_local_runs_a_missing_secret_stops_start_up_naming_every_variable():
    with pytest.raises(SettingsError) as error:
        load(DemoSettings, "fiche", {"ASSMAT_ENV": "production", "BROKER_URL": "amqp://b"})
    assert "FICHE_DATABASE_URL" in str(error.value)
    assert "BROKER_URL" not in str(error.value).split("setting(s)")[1].split("(")[0].replace("FICHE_DATABASE_URL", "")


def test_local_runs_accept_missing_secrets():
    assert load(DemoSettings, "fiche", {"ASSMAT_ENV": "local"}).database_url == ""


@pytest.mark.parametrize("variable,value", [("FICHE_PORT", "eighty"), ("FICHE_ENABLED", "maybe"),
                                            ("FICHE_RATIO", "1,5")])
def test_malformed_values_are_refused_with_the_variable_name(variable, value):
    with pytest.raises(SettingsError, match=variable):
        load(DemoSettings, "fiche", {variable: value})


def test_retry_delays_are_parsed():
    assert load(DemoSettings, "x", {"CONSUMER_RETRY_DELAYS_MS": "100, 200,300"}).retry_delays_ms == [100, 200, 300]
