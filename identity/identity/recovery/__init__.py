"""Forgotten password: a single-use link mailed to the account's address, and the new password it lets one set."""
