from dataclasses import dataclass

from services.settings import BaseSettings, load, setting


@dataclass(frozen=True)
class Settings(BaseSettings):
    port: int = setting(8104, help="port of `python -m <package> web` (production: gunicorn's bind)")
    departements: str = setting("", help="comma-separated départements to load communes for; empty: all France")
    geocoder: str = setting("communes", help="communes (offline, commune level) | addresses (the loaded BAN CSV "
                                             "extract, then the commune) | ban (the HTTP API at GEO_BAN_URL)")
    ban_url: str = setting("http://127.0.0.1:7878", help="base URL of the address API (public BAN, Géoplateforme "
                                                         "or a département's addok)")
    ban_timeout_seconds: float = setting(5.0, help="timeout of one call to the address API")
    ban_retries: int = setting(4, help="retries of a call answered 429/5xx or timing out, with backoff")
    ban_rate_per_second: float = setting(50.0, help="client-side limit of calls a second (the public API: 50/IP)")
    ban_batch_min: int = setting(20, help="a worker batch of at least this many places goes through /search/csv/")
    review_threshold: float = setting(0.6, help="a result scoring below this goes to support's review queue")
    public_pin: str = setting("blurred", help="address: the fiche's pin at the geocoded point; blurred: snapped "
                                              "to a grid of GEO_BLUR_METRES")
    blur_metres: int = setting(300, help="cell size of the blurred public pin, metres")
    correction_max_km: float = setting(15.0, help="a proposed point farther than this from the commune is refused")
    tile_url: str = setting("", help="tile server template for support's review map ({z}/{x}/{y}); empty: no "
                                     "background tiles")


def load_settings() -> Settings:
    settings = load(Settings, "geo")
    if settings.geocoder not in ("communes", "addresses", "ban"):
        raise ValueError("GEO_GEOCODER must be communes, addresses or ban")
    if settings.public_pin not in ("address", "blurred"):
        raise ValueError("GEO_PUBLIC_PIN must be address or blurred")
    if not 50 <= settings.blur_metres <= 5000:
        raise ValueError("GEO_BLUR_METRES must be between 50 and 5000")
    return settings
