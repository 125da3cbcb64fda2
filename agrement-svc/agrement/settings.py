from dataclasses import dataclass

from services.settings import BaseSettings, load, setting


@dataclass(frozen=True)
class Settings(BaseSettings):
    port: int = setting(8102, help="port of `python -m <package> web` (production: gunicorn's bind)")
    import_batch_size: int = setting(500, help="rows applied per transaction during an import")
    child_data_retention_days: int = setting(
        365, help="days after a child's departure before its first name, birth date, schedule and legal "
                  "representatives are erased (the contract's dates and declarations stay, nameless)")
    child_data_sweep_seconds: int = setting(
        3600, help="how often the worker looks for children's data to erase (0: never; the job is idempotent)")
    report_attachment_max_bytes: int = setting(
        1_000_000, help="largest attachment of a report of a change of situation, in bytes (PDF, PNG or JPEG; "
                        "at most 3 a report)")


def load_settings() -> Settings:
    return load(Settings, "agrement")
