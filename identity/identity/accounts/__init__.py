"""What every capability knows of an account: its role and status, credentials, refusals, and how it is read."""
