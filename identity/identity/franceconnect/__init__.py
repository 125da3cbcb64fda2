"""FranceConnect (v2): an OpenID Connect client that activates an assmat's account (linked only when the
identity's birth date and birth name match the agrément) and logs linked accounts in; plus, in `dev_provider/`, a
development provider behaving like FranceConnect for local runs and tests."""
