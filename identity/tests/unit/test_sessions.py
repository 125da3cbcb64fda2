import datetime as dt

import pytest

from identity.sessions.domain import RefreshState, refresh_state

NOW = dt.datetime(2024, 3, 1, 9, 0, tzinfo=dt.timezone.utc)
LATER = NOW + dt.timedelta(hours=12)


@pytest.mark.parametrize("used_at, revoked_at, expires_at, state", [
    (None, None, LATER, RefreshState.USABLE),
    (NOW, None, LATER, RefreshState.REUSED),
    (None, NOW, LATER, RefreshState.ENDED),
    (NOW, NOW, LATER, RefreshState.ENDED),
    (None, None, NOW, RefreshState.ENDED),
])
def test_refresh_token_state(used_at, revoked_at, expires_at, state):
    assert refresh_state(used_at, revoked_at, expires_at, NOW) is state
