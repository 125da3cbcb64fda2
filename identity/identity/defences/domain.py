"""How much guessing each action tolerates. Rules only (numbers and decisions); the counting is in `throttle`.

Why these numbers. Step 1 of activation asks a PMI number and a birth date: identification, not a secret (about
20,000 plausible birth dates). Five wrong dates per number per hour, and at most one more per lock, turns the
10-15 minutes an attacker needed on main into months per number, while a person who mistypes gets five tries and
the captcha that every step 1 requires anyway. A login is a password of 12 characters or more checked against the
common lists: five failures per 15 minutes per identifier keeps an online attack hopeless, and the captcha after
the first failure stops scripts from spending even those. Per IP address the limits are higher (a family, an RPE
office or a town hall share one address) and catch one machine spraying many numbers; across all addresses, a
flood of failures makes the captcha mandatory for everyone rather than locking anyone out. Mail sending is a quota
counted on every send: a person needs a few mails a day, an abuser needs thousands.

A lock refuses even the right answer until it ends (`too_many_attempts`, with `retry_after`): otherwise locking
would only slow down the wrong answers. After the lock, failures still inside the window keep the captcha
required, and the next failure locks again at once.
"""
from __future__ import annotations

from dataclasses import dataclass

MINUTE, HOUR, DAY = 60, 3600, 86400

# Failures per minute, all actions together, above which staff are alerted (log line `security spike`, counter).
# A département's few thousand assmats make a handful of failures a minute at their busiest.
SPIKE_THRESHOLD_PER_MINUTE = 30


@dataclass(frozen=True)
class Policy:
    """`counts`: "failures" (record_failure counts; success forgets the identifier's failures) or "uses" (every
    check counts, a quota). `captcha_after`: failures of the identifier after which the captcha is required
    (0: always; None: never); `ip_captcha_after` the same per address. `global_captcha_per_minute`: failures per
    minute of this action, from everywhere, above which everyone gets the captcha; `global_limit` a hard cap of
    uses per `global_window` (mail only: beyond it our sender's reputation is at stake)."""
    identifier_limit: int
    identifier_window: int
    ip_limit: int
    ip_window: int
    lock_seconds: int
    counts: str = "failures"
    captcha_after: int | None = None
    ip_captcha_after: int | None = None
    global_captcha_per_minute: int | None = None
    global_limit: int | None = None
    global_window: int = HOUR


POLICIES: dict[str, Policy] = {
    # Step 1: PMI number + birth date; the captcha is always asked.
    "activation_check": Policy(identifier_limit=5, identifier_window=HOUR, ip_limit=10, ip_window=HOUR,
                               lock_seconds=HOUR, captcha_after=0, ip_captcha_after=0),
    # Step 2 needs a ticket from step 1 (captcha solved). Each success mails a link (and tells the previous
    # address): a quota per PMI number, so one ticket cannot mail a list of addresses.
    "activation_complete": Policy(identifier_limit=6, identifier_window=HOUR, ip_limit=20, ip_window=HOUR,
                                  lock_seconds=HOUR, counts="uses"),
    # Login by PMI number or e-mail.
    "login": Policy(identifier_limit=5, identifier_window=HOUR, ip_limit=20, ip_window=HOUR, lock_seconds=15 * MINUTE,
                    captcha_after=1, ip_captcha_after=3, global_captcha_per_minute=20),
    # Staff have a second factor (TOTP): a guessed password alone opens nothing, so no captcha on their page; the
    # locks still make guessing slow and every attempt is audited.
    "staff_login": Policy(identifier_limit=5, identifier_window=HOUR, ip_limit=20, ip_window=HOUR,
                          lock_seconds=15 * MINUTE),
    # "Renvoyer le courriel": three per account and day is plenty for a delayed mail.
    "resend": Policy(identifier_limit=3, identifier_window=DAY, ip_limit=10, ip_window=HOUR, lock_seconds=HOUR,
                     counts="uses"),
    # Forgotten password requests (part D calls it), counted per address asked for.
    "reset": Policy(identifier_limit=3, identifier_window=HOUR, ip_limit=10, ip_window=HOUR, lock_seconds=HOUR,
                    counts="uses"),
    # Every mail identity asks notify-svc to send, counted per recipient.
    "mail": Policy(identifier_limit=5, identifier_window=DAY, ip_limit=20, ip_window=HOUR, lock_seconds=HOUR,
                   counts="uses", global_limit=1000, global_window=HOUR),
    # New captcha challenges, per address: far above what people need, low enough that nobody fills the store.
    "captcha": Policy(identifier_limit=10**9, identifier_window=HOUR, ip_limit=300, ip_window=HOUR,
                      lock_seconds=HOUR, counts="uses"),
}


def policy(action: str) -> Policy:
    try:
        return POLICIES[action]
    except KeyError:
        raise ValueError(f"no throttling policy for {action!r}") from None


def captcha_required(rule: Policy, identifier_failures: int, ip_failures: int, global_failures_minute: int) -> bool:
    if rule.captcha_after == 0 or rule.ip_captcha_after == 0:
        return True
    if rule.captcha_after is not None and identifier_failures >= rule.captcha_after:
        return True
    if rule.ip_captcha_after is not None and ip_failures >= rule.ip_captcha_after:
        return True
    return rule.global_captcha_per_minute is not None and global_failures_minute > rule.global_captcha_per_minute


def is_spike(failures_this_minute: int, threshold: int = SPIKE_THRESHOLD_PER_MINUTE) -> bool:
    """Alert when the minute's count crosses the threshold, then again at each tenfold: one line per wave, not
    one per failure."""
    return failures_this_minute == threshold or (
        failures_this_minute > threshold and failures_this_minute % (threshold * 10) == 0)
