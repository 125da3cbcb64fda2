from dataclasses import dataclass

from services.settings import BaseSettings, SettingsError, current_command, load, setting


@dataclass(frozen=True)
class Settings(BaseSettings):
    port: int = setting(8105, help="port of `python -m <package> web` (production: gunicorn's bind)")
    mail_url: str = setting("", secret=True, needed_by=("worker",),
                            help="smtp://user:pass@host:port[?starttls=1] in production; sink:///abs/dir locally")
    mail_from: str = setting("Portail assmat – PMI <ne-pas-repondre@assmat.local>",
                             help="the From header of every mail")
    smtp_timeout_seconds: float = setting(30.0, help="how long one SMTP reply may take before the send fails")
    send_retry_delays_seconds: str = setting("60,300,1800,7200,21600",
                                             help="waits before each new attempt after a temporary failure (4xx, "
                                                  "connection lost); after the last one the mail is failed")
    claim_lease_seconds: float = setting(120.0, help="a worker's hold on a mail it is sending; past it (the worker "
                                                     "died) another worker takes the mail over")
    claim_batch: int = setting(10, help="mails a sender claims at once (one transaction), then sends one by one")
    poll_seconds: float = setting(0.5, help="how often an idle sender looks for mail to send")
    senders: int = setting(1, help="sending threads per worker process")
    domain_pace: str = setting("orange.fr=20,wanadoo.fr=20,free.fr=20,sfr.fr=30,neuf.fr=30,laposte.net=30",
                               help="at most N mails a minute to each of these recipient domains "
                                    "(domain=N, comma separated); other domains unpaced")
    log_retention_days: int = setting(90, help="how long the delivery log keeps a sent or failed mail")
    public_base_url: str = setting("http://127.0.0.1:8000", shared=True, env="PUBLIC_BASE_URL",
                                   help="the gateway's public URL, the base of the links put in mails")
    circonscription_addresses: str = setting(
        "", help="the circonscriptions' mailboxes for the alerts (late declaration, capacity exceeded, over-capacity): "
                 "name=address separated by `;` (Chartres=pmi.chartres@cd28.fr;Dreux=pmi.dreux@cd28.fr), names "
                 "as in the extract, any case; empty: no alert mailed")
    dkim_domain: str = setting("", help="d= of the DKIM signature; empty: no signing")
    dkim_selector: str = setting("", help="s= of the DKIM signature")
    dkim_key_file: str = setting("", help="path of the DKIM RSA private key (PEM, unencrypted; a file, so the key "
                                          "stays out of the environment and of logs)")


def load_settings(environ=None, **overrides) -> Settings:
    """Settings from the environment; a bad mail URL or sender stops start-up here, not at the first mail."""
    from notify.adapters.transport import make_transport
    from notify.mails.domain.messages import checked_sender

    settings = load(Settings, "notify", environ, **overrides)
    # Only the worker sends mail: `migrate` or the web process of a production deployment may run without it.
    if settings.mail_url or current_command() in (None, "worker"):
        make_transport(settings)
    from notify.mails.delivery import parse_delays, parse_pace
    from notify.mails.domain.dkim import load_signer
    try:
        parse_delays(settings.send_retry_delays_seconds)
    except ValueError as error:
        raise SettingsError(f"NOTIFY_SEND_RETRY_DELAYS_SECONDS: {error}") from None
    try:
        parse_pace(settings.domain_pace)
    except ValueError as error:
        raise SettingsError(f"NOTIFY_DOMAIN_PACE: {error}") from None
    try:
        load_signer(settings)
    except ValueError as error:
        raise SettingsError(f"NOTIFY_DKIM_*: {error}") from None
    from notify.mails.domain.alerts import parse_mailboxes
    try:
        parse_mailboxes(settings.circonscription_addresses)
    except ValueError as error:
        raise SettingsError(f"NOTIFY_CIRCONSCRIPTION_ADDRESSES : {error}. Attendu : circonscription=adresse séparés "
                            "par « ; », ex. Chartres=pmi.chartres@cd28.fr;Dreux=pmi.dreux@cd28.fr") from None
    try:
        checked_sender(settings.mail_from)
    except ValueError as error:
        raise SettingsError(f"NOTIFY_MAIL_FROM: {error}") from None
    return settings
