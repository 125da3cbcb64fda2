"""The structures extract: MAMs and relais petite enfance (RPE), their contact e-mail (their account's login)."""
