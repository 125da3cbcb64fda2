from dataclasses import dataclass

from services.settings import BaseSettings, load, setting


@dataclass(frozen=True)
class Settings(BaseSettings):
    port: int = setting(8102, help="port of `python -m <package> web` (production: gunicorn's bind)")
    import_batch_size: int = setting(500, help="rows applied per transaction during an import")
    report_attachment_max_bytes: int = setting(
        1_000_000, help="largest attachment of a report of a change of situation, in bytes (PDF, PNG or JPEG; "
                        "at most 3 a report)")


def load_settings() -> Settings:
    return load(Settings, "agrement")
