"""The audit trail of identity: every attempt (activation, login, resend, captcha, staff login...), its outcome,
the masked identifier, the client's address; and the reading staff get of it."""
