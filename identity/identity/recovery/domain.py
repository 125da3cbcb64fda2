"""Forgotten password: the link's lifetime and states, and how many links an account may be sent.

The same rules give a MAM or an RPE its first password: their account is created from the structures extract with
no password, and "forgotten password" with the account type sends them the link.
"""
from __future__ import annotations

import datetime as dt

from identity.accounts.domain.refusals import Refusal

RESET_LIFETIME = dt.timedelta(hours=1)
# A link printed by `python -m identity staff create|reset` is handed over by an administrator: it lives longer.
STAFF_LINK_LIFETIME = dt.timedelta(hours=24)
RESET_PATH = "/espace-pro/mot-de-passe-oublie/nouveau?jeton="
# Beyond this many links in the last hour the form answers the same but no mail leaves: nobody fills someone's
# mailbox through the form, whatever part A's throttling lets through.
MAX_LINKS_PER_WINDOW = 3
LINKS_WINDOW = dt.timedelta(hours=1)
# The answer never comes sooner than this after the request, so the time taken does not tell whether a mail was
# queued (an account exists) or not.
MIN_ANSWER_SECONDS = 0.25


def check_reset_link(used_at: dt.datetime | None, expires_at: dt.datetime, now: dt.datetime) -> None:
    if used_at is not None:
        raise Refusal("reset_link_used")
    if expires_at <= now:
        raise Refusal("reset_link_expired")


def may_send_link(links_in_window: int) -> bool:
    return links_in_window < MAX_LINKS_PER_WINDOW
