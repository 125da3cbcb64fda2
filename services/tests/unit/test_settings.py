from dataclasses import dataclass

import pytest

from services.settings import BaseSettings, SettingsError, load, setting, weak_secret_reason


@dataclass(frozen=True)
class DemoSettings(BaseSettings):
    port: int = setting(8100)
    ratio: float = setting(0.5)
    enabled: bool = setting(False)


def test_fields_are_read_with_the_service_prefix_and_shared_names_without():
    settings = load(DemoSettings, "fiche", {"ASSMAT_ENV": "local", "FICHE_PORT": "9001",
                                            "FICHE_DATABASE_URL": "sqlite:///x",
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
    assert load(DemoSettings, "x", {"ASSMAT_ENV": "test", "CONSUMER_RETRY_DELAYS_MS": "100, 200,300"}).retry_delays_ms == [100, 200, 300]


@dataclass(frozen=True)
class KeyedSettings(BaseSettings):
    signing_key: str = setting("", secret=True)


GOOD_KEY = "q3J9vT0b-Xw4LmZs8KfE2nYpRhU6cDaG1oWiB5tQ7jN"
PRODUCTION = {"ASSMAT_ENV": "production", "BROKER_URL": "amqp://assmat:Zk4r9Tq2Lm8Wv1Xc@mq:5672/assmat",
              "SVC_DATABASE_URL": "postgresql://svc:Hs7Yq2Kd9Pw4Rn6T@db:5432/svc"}


def test_a_process_without_assmat_env_runs_as_production_and_enforces_its_secrets():
    with pytest.raises(SettingsError, match="SVC_SIGNING_KEY") as error:
        load(KeyedSettings, "svc", {key: value for key, value in PRODUCTION.items() if key != "ASSMAT_ENV"})
    assert "'production'" in str(error.value)
    settings = load(KeyedSettings, "svc", {**PRODUCTION, "SVC_SIGNING_KEY": GOOD_KEY, "ASSMAT_ENV": ""})
    assert settings.environment == "production" and not settings.is_local


@pytest.mark.parametrize("value", ["CHANGE_ME-a-long-random-value-for-the-gateway", "short-but-random-Zq8",
                                   "my-secret-key-that-is-long-enough-to-pass", "x" * 40, "ab" * 20,
                                   "xxx-xxx-xxx-xxx-xxx-xxx-xxx-xxx-x",
                                   "example" + GOOD_KEY])
def test_a_placeholder_or_short_key_is_refused_naming_the_variable_not_the_value(value):
    with pytest.raises(SettingsError, match="SVC_SIGNING_KEY") as error:
        load(KeyedSettings, "svc", {**PRODUCTION, "SVC_SIGNING_KEY": value})
    assert value not in str(error.value)


@pytest.mark.parametrize("url", ["postgresql://svc:CHANGE_ME-svc-db@db:5432/svc",
                                 "postgresql://svc:password@db/svc", "postgresql://svc:secret@db/svc"])
def test_a_placeholder_password_in_a_url_is_refused(url):
    with pytest.raises(SettingsError, match="SVC_DATABASE_URL.*password is a placeholder"):
        load(KeyedSettings, "svc", {**PRODUCTION, "SVC_SIGNING_KEY": GOOD_KEY, "SVC_DATABASE_URL": url})


def test_urls_without_a_password_and_generated_keys_are_accepted():
    for value in ("postgresql://postgres@127.0.0.1:5432/svc", "amqp://guest:guest@127.0.0.1:5672/%2F",
                  "redis://redis:6379/0", GOOD_KEY):
        assert weak_secret_reason(value) is None, value
    # A generated key never trips on a short placeholder word by chance (it has many distinct characters).
    assert weak_secret_reason("Axxx" + GOOD_KEY[4:]) is None


def test_local_and_test_runs_take_any_secret():
    assert load(KeyedSettings, "svc", {"ASSMAT_ENV": "test", "SVC_SIGNING_KEY": "k"}).signing_key == "k"
