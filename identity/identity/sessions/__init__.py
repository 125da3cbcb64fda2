"""Sessions: login, refresh, logout, and the account behind an access token (/api/me)."""
