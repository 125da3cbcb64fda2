"""What a captcha asks: its alphabet, its length, how an answer is read. Rules only.

The alphabet leaves out what people confuse on a distorted image or over a phone speaker: 0/O/Q/D-like shapes,
1/I/L, 2/Z, 5/S, 6/G, 8/B, and every accented letter (a French keyboard types them, a phone may not). Answers are
compared without case and without the spaces people type between characters.
"""
from __future__ import annotations

import hmac
import secrets

ALPHABET = "ACEFHJKMNPRTUVWXY34679"
LENGTH = 5                    # 22^5 = 5.2 million answers: guessing one blindly is hopeless, typing it is quick
LIFETIME_SECONDS = 600        # long enough to read, listen twice and type; short enough that a stock is stale
ANSWER_MAX_LENGTH = 32
# Drawings of one challenge (image and sound together): a person reloads the page or replays the sound a few
# times; beyond this, someone is making us spend CPU (the sound takes tens of milliseconds to mix).
MAX_RENDERINGS = 12


def new_answer() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalize(answer) -> str:
    """What was typed, as it is compared: upper case, spaces and dashes dropped."""
    if not isinstance(answer, str) or len(answer) > ANSWER_MAX_LENGTH:
        return ""
    return "".join(ch for ch in answer.upper() if not ch.isspace() and ch != "-")


def matches(expected: str, typed) -> bool:
    return hmac.compare_digest(expected.encode(), normalize(typed).encode())


def new_id() -> str:
    """The challenge's id: unguessable, so nobody can fetch or spend another person's captcha."""
    return secrets.token_urlsafe(18)


def is_id(value) -> bool:
    return isinstance(value, str) and 10 <= len(value) <= 64 and all(
        ch.isalnum() or ch in "-_" for ch in value) and value.isascii()
