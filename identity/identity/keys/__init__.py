"""identity's signing keys as other services see them: the JWKS. The key store itself is `identity.adapters.keys`."""
