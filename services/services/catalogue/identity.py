"""Events produced by identity."""
from services.catalogue import EventSpec

EMAIL_CONFIRMATION_REQUESTED = EventSpec(
    "identity.email_confirmation_requested", 1, "identity",
    ("account_id", "email", "display_name", "confirmation_url", "expires_at"),
    "An account waits for its e-mail to be confirmed; notify-svc mails the single-use link.",
    consumers=("notify",))
ACCOUNT_ACTIVATED = EventSpec(
    "identity.account_activated", 1, "identity", ("account_id", "role", "pmi_number", "method"),
    "An account became usable (method: password | franceconnect | pmi_central). Optional `email` (added, "
    "absent from older events): the account's address, empty when it has none (FranceConnect); notify-svc keeps "
    "it in its address book, to write to an assmat whose event does not carry her address.",
    consumers=("notify",))
ACTIVATION_ADDRESS_REPLACED = EventSpec(
    "identity.activation_address_replaced", 1, "identity",
    ("account_id", "email", "display_name", "new_email_masked"),
    "Step 2 of an activation was done again with another address before the first was confirmed: the previous "
    "address (`email`) is told, its links no longer work; notify-svc mails it.",
    consumers=("notify",))
ACTIVATION_ELSEWHERE_NOTICE = EventSpec(
    "identity.activation_elsewhere_notice", 1, "identity",
    ("account_id", "email", "display_name", "account_email_masked", "method"),
    "An account was activated with an address other than the one in the PMI's extract: that address (`email`) is "
    "told, with what to do if it was not her; notify-svc mails it.",
    consumers=("notify",))
PASSWORD_RESET_REQUESTED = EventSpec(
    "identity.password_reset_requested", 1, "identity",
    ("account_id", "email", "display_name", "account_type", "reset_url", "expires_at", "first_password"),
    "Someone asked for a new password (or a MAM/RPE for its first one); notify-svc mails the single-use link.",
    consumers=("notify",))
PASSWORD_CHANGED = EventSpec(
    "identity.password_changed", 1, "identity", ("account_id", "email", "display_name", "account_type", "changed_at"),
    "An account's password was set or changed (every session of the account was ended); its owner is told.",
    consumers=("notify",))
EMAIL_CHANGED = EventSpec(
    "identity.email_changed", 1, "identity",
    ("account_id", "previous_email", "new_email_masked", "display_name", "account_type", "changed_at"),
    "An account's e-mail changed (today: a structure's e-mail in the structures extract); the previous address is "
    "told.", consumers=("notify",))
