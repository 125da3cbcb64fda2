"""Captcha challenges in the expiring store: created, read to draw them, taken once to check an answer.

The stored value is the answer and the seed of its drawings. `solve` takes it: whatever the outcome, a challenge
serves one attempt only, so a wrong answer means a new image, and a right one cannot be replayed.
"""
from __future__ import annotations

import secrets

from identity.captcha.domain import LIFETIME_SECONDS, is_id, matches, new_answer, new_id

PREFIX = "captcha:"


def new_challenge(store, now: float) -> str:
    challenge_id = new_id()
    store.put(PREFIX + challenge_id, f"{new_answer()}:{secrets.token_hex(8)}", LIFETIME_SECONDS, now=now)
    return challenge_id


def read_challenge(store, challenge_id, now: float) -> tuple[str, str] | None:
    """(answer, seed) of a live challenge, without spending it; None when unknown or expired."""
    if not is_id(challenge_id):
        return None
    value = store.get(PREFIX + challenge_id, now=now)
    if not value:
        return None
    answer, _, seed = value.partition(":")
    return answer, seed


def solve(store, challenge_id, typed, now: float) -> bool:
    if not is_id(challenge_id):
        return False
    value = store.take(PREFIX + challenge_id, now=now)
    return value is not None and matches(value.partition(":")[0], typed)
