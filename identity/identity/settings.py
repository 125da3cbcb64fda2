from dataclasses import dataclass

from services.settings import BaseSettings, load, setting


@dataclass(frozen=True)
class Settings(BaseSettings):
    port: int = setting(8101, help="port of `python -m <package> web` (production: gunicorn's bind)")
    public_base_url: str = setting("http://127.0.0.1:8000", shared=True, env="PUBLIC_BASE_URL",
                                   help="the gateway's public URL, the base of the links put in mails")
    # Throttling counters, captcha answers: Redis where configured (one store for every replica); empty: this
    # service's own database (the embedded default), which every process of identity shares just as well.
    store_url: str = setting("", help="redis://host:6379/0 for throttling counters and captcha answers; empty: "
                                      "identity's own database")
    departement_name: str = setting("Eure-et-Loir", help="the département's name: refused inside passwords, like "
                                                         "the portal's own words")
    # identity is called by the gateway, from loopback in the embedded run: only then is X-Forwarded-For believed.
    trusted_proxies: str = setting("127.0.0.0/8,::1", help="addresses or CIDR blocks (comma separated) whose "
                                   "X-Forwarded-For is believed: the gateway's; anything else is the client itself")


def load_settings() -> Settings:
    return load(Settings, "identity")
