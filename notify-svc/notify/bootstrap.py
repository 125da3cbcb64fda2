"""The one place that wires notify-svc's engine, sessions, bus, mail transport, senders and token verifier."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email.headerregistry import Address

from notify.adapters.transport import SinkTransport, SmtpTransport, make_transport
from notify.mails.consumers import make_handlers
from notify.mails.delivery import Sender, parse_delays, parse_pace
from notify.mails.domain.alerts import parse_mailboxes
from notify.mails.domain.dkim import load_signer
from notify.mails.domain.messages import checked_sender
from notify.settings import Settings
from services.auth import TokenVerifier
from services.bootstrap import ServiceContainer
from services.inbox import Handler
from services.settings import SettingsError


@dataclass
class Container(ServiceContainer):
    transport: SmtpTransport | SinkTransport | None  # None: a process that sends no mail (migrate, web in production)
    sender: Address
    verifier: TokenVerifier

    @property
    def sink(self) -> SinkTransport | None:
        """The mail sink whose pages the web process shows; only ever in local runs."""
        return self.transport if isinstance(self.transport, SinkTransport) and self.settings.is_local else None

    def handlers(self) -> dict[str, Handler]:
        # Handlers only queue the mail (no network): the senders send it.
        return make_handlers(self.sender, mailboxes=parse_mailboxes(self.settings.circonscription_addresses),
                             base_url=self.settings.public_base_url)

    def mail_sender(self) -> Sender:
        if self.transport is None:
            raise SettingsError("NOTIFY_MAIL_URL is empty: the notify worker needs a mail server (or a local sink)")
        settings = self.settings
        return Sender(self.session_factory, self.transport, self.sender.addr_spec,
                      parse_delays(settings.send_retry_delays_seconds),
                      lease=dt.timedelta(seconds=settings.claim_lease_seconds),
                      # The sink is no provider's server: nothing to pace there.
                      pace={} if isinstance(self.transport, SinkTransport) else parse_pace(settings.domain_pace),
                      signer=load_signer(settings),
                      poll_seconds=settings.poll_seconds, batch=max(1, settings.claim_batch))


def bootstrap(settings: Settings) -> Container:
    return Container(**ServiceContainer.parts(settings),
                     transport=make_transport(settings) if settings.mail_url else None,
                     sender=checked_sender(settings.mail_from),
                     verifier=TokenVerifier(settings.identity_jwks_url, settings.token_issuer,
                                            settings.token_audience, refresh_seconds=settings.jwks_refresh_seconds))
