"""The one place that wires notify-svc's engine, sessions, bus, mail transport and handlers."""
from __future__ import annotations

from dataclasses import dataclass
from email.headerregistry import Address


from notify.adapters.transport import SinkTransport, SmtpTransport, make_transport
from notify.mails.consumers import make_handlers
from notify.mails.domain.messages import checked_sender
from notify.settings import Settings
from services.bootstrap import ServiceContainer
from services.settings import SettingsError
from services.inbox import Handler


@dataclass
class Container(ServiceContainer):
    transport: SmtpTransport | SinkTransport | None  # None: a process that sends no mail (migrate, web in production)
    sender: Address

    @property
    def sink(self) -> SinkTransport | None:
        """The mail sink whose pages the web process shows; only ever in local runs."""
        return self.transport if isinstance(self.transport, SinkTransport) and self.settings.is_local else None

    def handlers(self) -> dict[str, Handler]:
        # The bus delivers an event once, then once more per retry delay, then dead-letters it.
        if self.transport is None:
            raise SettingsError("NOTIFY_MAIL_URL is empty: the notify worker needs a mail server (or a local sink)")
        return make_handlers(self.transport, self.sender, max_attempts=len(self.settings.retry_delays_ms) + 1)


def bootstrap(settings: Settings) -> Container:
    return Container(**ServiceContainer.parts(settings),
                     transport=make_transport(settings) if settings.mail_url else None,
                     sender=checked_sender(settings.mail_from))
