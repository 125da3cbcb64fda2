"""PMI staff accounts: created by command, roles and circonscriptions, login with a password and a TOTP code."""
