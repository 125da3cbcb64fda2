from dataclasses import dataclass

from services.settings import BaseSettings, SettingsError, current_command, load, setting


@dataclass(frozen=True)
class Settings(BaseSettings):
    port: int = setting(8105, help="port of `python -m <package> web` (production: gunicorn's bind)")
    mail_url: str = setting("", secret=True, needed_by=("worker",),
                            help="smtp://user:pass@host:port[?starttls=1] in production; sink:///abs/dir locally")
    mail_from: str = setting("Portail assmat – PMI <ne-pas-repondre@assmat.local>",
                             help="the From header of every mail")
    smtp_timeout_seconds: float = setting(30.0, help="how long one SMTP conversation may take before it fails")


def load_settings(environ=None, **overrides) -> Settings:
    """Settings from the environment; a bad mail URL or sender stops start-up here, not at the first mail."""
    from notify.adapters.transport import make_transport
    from notify.mails.domain.messages import checked_sender

    settings = load(Settings, "notify", environ, **overrides)
    # Only the worker sends mail: `migrate` or the web process of a production deployment may run without it.
    if settings.mail_url or current_command() in (None, "worker"):
        make_transport(settings)
    try:
        checked_sender(settings.mail_from)
    except ValueError as error:
        raise SettingsError(f"NOTIFY_MAIL_FROM: {error}") from None
    return settings
