"""Events produced by notify-svc."""
from services.catalogue import EventSpec

MAIL_DELIVERED = EventSpec("mail.delivered", 1, "notify-svc", ("mail_id", "template", "cause_event_id"),
                           "A mail was handed to the mail server (or the local sink).")
MAIL_FAILED = EventSpec("mail.failed", 1, "notify-svc", ("mail_id", "template", "cause_event_id", "error"),
                        "A mail could not be sent after its retries.")
