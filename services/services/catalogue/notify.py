"""Events produced by notify-svc."""
from services.catalogue import EventSpec

MAIL_DELIVERED = EventSpec("mail.delivered", 1, "notify-svc", ("mail_id", "template", "cause_event_id"),
                           "A mail was accepted by the mail server (or the local sink): once per mail.")
MAIL_FAILED = EventSpec("mail.failed", 1, "notify-svc", ("mail_id", "template", "cause_event_id", "error"),
                        "A mail will not be sent: refused for good (5xx), address failing, or its last retry "
                        "spent. Exactly once per mail that fails, in the transaction that fails it.")
