from dataclasses import dataclass

from services.settings import BaseSettings, load, setting


@dataclass(frozen=True)
class Settings(BaseSettings):
    port: int = setting(8103, help="port of `python -m <package> web` (production: gunicorn's bind)")
    lapse_sweep_seconds: float = setting(3600.0, help="how often the worker announces the fiches whose agrément "
                                                      "validity started or ended; 0 turns the sweep off")


def load_settings() -> Settings:
    return load(Settings, "fiche")
