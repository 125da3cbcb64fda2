"""The extract's domain: rules and formats only, no Flask, no SQLAlchemy session, no broker.

- `format`: the PMI's agrément extract (CSV) — parsing, validation, writing, fingerprints, JSON form
  (EXTRACT_FORMAT.md documents it for the PMI's IT staff).
- `demo`: fictional demo records and files in that format, deterministic for a given seed.
"""
