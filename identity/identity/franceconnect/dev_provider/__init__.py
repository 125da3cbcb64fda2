"""A DEVELOPMENT TOOL, never a FranceConnect: a small OpenID Connect provider that behaves like FranceConnect v2
for local runs and tests (see app.py). It refuses to start when ASSMAT_ENV is production."""
