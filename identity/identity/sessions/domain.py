"""Sessions: a short-lived access token, and a refresh token rotated on every use within an absolute lifetime."""
from __future__ import annotations

import datetime as dt
import enum

ACCESS_TOKEN_LIFETIME = dt.timedelta(minutes=15)
# Absolute: rotation never extends a session past 12 hours after the login that opened it.
SESSION_LIFETIME = dt.timedelta(hours=12)


class RefreshState(enum.Enum):
    USABLE = "usable"
    ENDED = "ended"      # expired or revoked (logout)
    REUSED = "reused"    # already exchanged: someone replays it, so the whole session is ended


def refresh_state(used_at: dt.datetime | None, revoked_at: dt.datetime | None, expires_at: dt.datetime,
                  now: dt.datetime) -> RefreshState:
    if revoked_at is not None or expires_at <= now:
        return RefreshState.ENDED
    if used_at is not None:
        return RefreshState.REUSED
    return RefreshState.USABLE
