from dataclasses import dataclass

from services.settings import BaseSettings, SettingsError, load, setting


@dataclass(frozen=True)
class Settings(BaseSettings):
    port: int = setting(8101, help="port of `python -m <package> web` (production: gunicorn's bind)")
    public_base_url: str = setting("http://127.0.0.1:8000", shared=True, env="PUBLIC_BASE_URL",
                                   help="the gateway's public URL, the base of the links put in mails")
    # Throttling counters, captcha answers, FranceConnect's state and nonce: Redis where configured (one store for
    # every replica); empty: this service's own database (the embedded default), which every process shares.
    store_url: str = setting("", help="redis://host:6379/0 for throttling counters, captcha answers, FranceConnect "
                                      "state and nonce; empty: identity's own database")
    departement_name: str = setting("Eure-et-Loir", help="the département's name: refused inside passwords, like "
                                                         "the portal's own words")
    # identity is called by the gateway, from loopback in the embedded run: only then is X-Forwarded-For believed.
    trusted_proxies: str = setting("127.0.0.0/8,::1", help="addresses or CIDR blocks (comma separated) whose "
                                   "X-Forwarded-For is believed: the gateway's; anything else is the client itself")
    franceconnect_issuer: str = setting("", env="FRANCECONNECT_ISSUER",
                                        help="FranceConnect's base URL (its discovery document at "
                                             "/.well-known/openid-configuration); empty: FranceConnect not offered")
    franceconnect_client_id: str = setting("", env="FRANCECONNECT_CLIENT_ID",
                                           help="the portal's client id at FranceConnect")
    franceconnect_client_secret: str = setting("", env="FRANCECONNECT_CLIENT_SECRET",
                                               help="the portal's client secret at FranceConnect (required outside "
                                                    "local runs when FRANCECONNECT_ISSUER is set)")

    @property
    def franceconnect_enabled(self) -> bool:
        return bool(self.franceconnect_issuer)


def check_franceconnect(settings: Settings) -> Settings:
    """FranceConnect is optional, but once an issuer is set outside local runs it needs its client id and secret,
    and must be reached over HTTPS (the client secret travels in the token request)."""
    if settings.franceconnect_enabled and not settings.is_local:
        missing = [name for name, value in (("FRANCECONNECT_CLIENT_ID", settings.franceconnect_client_id),
                                            ("FRANCECONNECT_CLIENT_SECRET", settings.franceconnect_client_secret))
                   if not value]
        if missing:
            raise SettingsError(f"identity: FRANCECONNECT_ISSUER is set, so {', '.join(missing)} must be too")
        secret = settings.franceconnect_client_secret
        if "CHANGE_ME" in secret or len(secret) < 16:
            raise SettingsError("identity: FRANCECONNECT_CLIENT_SECRET is a placeholder or too short; set the secret "
                                "FranceConnect gave the portal")
        if not settings.franceconnect_issuer.startswith("https://"):
            raise SettingsError("identity: FRANCECONNECT_ISSUER must be an https:// URL outside local runs")
    return settings




def load_settings() -> Settings:
    return check_franceconnect(load(Settings, "identity"))
