"""Events produced by identity."""
from services.catalogue import EventSpec

EMAIL_CONFIRMATION_REQUESTED = EventSpec(
    "identity.email_confirmation_requested", 1, "identity",
    ("account_id", "email", "display_name", "confirmation_url", "expires_at"),
    "An account waits for its e-mail to be confirmed; notify-svc mails the single-use link.",
    consumers=("notify",))
ACCOUNT_ACTIVATED = EventSpec(
    "identity.account_activated", 1, "identity", ("account_id", "role", "pmi_number", "method"),
    "An account became usable (method: password | franceconnect | pmi_central).")
