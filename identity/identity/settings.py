from dataclasses import dataclass

from services.settings import BaseSettings, load, setting


@dataclass(frozen=True)
class Settings(BaseSettings):
    port: int = setting(8101, help="port of `python -m <package> web` (production: gunicorn's bind)")
    public_base_url: str = setting("http://127.0.0.1:8000", shared=True, env="PUBLIC_BASE_URL",
                                   help="the gateway's public URL, the base of the links put in mails")


def load_settings() -> Settings:
    return load(Settings, "identity")
