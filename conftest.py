"""Loaded first by pytest, from the repository root.

In importlib mode pytest names a test file after its folders (`identity/tests/unit/test_x.py` becomes
`identity.tests.unit.test_x`) and, on the way, registers the FOLDER `identity/` as a namespace package `identity`,
hiding the real package `identity/identity/`. Importing the real packages first, here, keeps them in place.
"""
import importlib

for package in ("services", "identity", "agrement", "fiche", "geo", "notify", "gateway"):
    importlib.import_module(package)
