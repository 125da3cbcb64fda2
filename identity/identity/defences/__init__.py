"""The gates in front of every attempt to prove who one is: throttling per identifier, per address and globally,
the captcha when the policy asks for it, the audit of each attempt and the alert when failures spike.

Every endpoint that checks a secret or sends a mail calls, outside its own transaction:
    gates.check(action, identifier, captcha=body)      # before: may refuse 429 / 428 / 400
    gates.record_failure(action, identifier) or gates.record_success(action, identifier, account_id=...)
(`identity.defences.gates`; the numbers are in `identity.defences.domain`).
"""
