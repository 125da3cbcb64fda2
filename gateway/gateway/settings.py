from dataclasses import dataclass

from services.settings import BaseSettings, load, setting


@dataclass(frozen=True)
class Settings(BaseSettings):
    # The gateway keeps no database and publishes no events: unlike other services it must not require either.
    database_url: str = setting("")
    broker_url: str = setting("", shared=True, env="BROKER_URL")
    port: int = setting(8000, help="port of `python -m <package> web` (production: gunicorn's bind)")
    secret_key: str = setting("", secret=True, needed_by=("web",),
                              help="signs the session id in the browser cookie (32+ random characters); random "
                                   "per process locally")
    store_url: str = setting("", secret=True, needed_by=("web",),
                             help="where the browser sessions live: redis://[:password@]host:6379/0 (shared by "
                                  "every gateway process); a sqlite:////abs/file locally (`assmat run` gives one "
                                  "under its data folder; empty in a local run: a file in a temporary folder)")
    identity_url: str = setting("http://127.0.0.1:8101")
    agrement_url: str = setting("http://127.0.0.1:8102")
    fiche_url: str = setting("http://127.0.0.1:8103")
    geo_url: str = setting("http://127.0.0.1:8104")
    notify_url: str = setting("http://127.0.0.1:8105")
    departement: str = setting("28", help="code of the département the portal serves (narrows commune searches)")
    departement_name: str = setting("Eure-et-Loir")
    pmi_phone: str = setting("02 37 20 12 82", help="PMI central's phone, shown in help and error pages")
    # The reverse proxy in front of the gateway, if any: only its X-Forwarded-For is believed (empty: none, the
    # browser's own address counts, and a forged header changes nothing).
    trusted_proxies: str = setting("", help="addresses or CIDR blocks (comma separated) of the reverse proxy in "
                                            "front of the gateway; empty: the header X-Forwarded-For is ignored")
    franceconnect_enabled: bool = setting(False, help="show the FranceConnect buttons (identity must have "
                                                       "FRANCECONNECT_ISSUER set); `assmat run` turns it on")
    session_idle_minutes: int = setting(30, help="a browser session ends after this long without a request")
    session_absolute_hours: int = setting(12, help="and this long after its login, however active")


def load_settings() -> Settings:
    return load(Settings, "gateway")
