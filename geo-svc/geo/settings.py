from dataclasses import dataclass

from services.settings import BaseSettings, load, setting


@dataclass(frozen=True)
class Settings(BaseSettings):
    port: int = setting(8104, help="port of `python -m <package> web` (production: gunicorn's bind)")
    departements: str = setting("", help="comma-separated départements to load communes for; empty: all France")


def load_settings() -> Settings:
    return load(Settings, "geo")
