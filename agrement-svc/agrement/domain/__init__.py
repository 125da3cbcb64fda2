"""agrement-svc's domain: rules and formats only, no Flask, no SQLAlchemy session, no broker.

- `extract`: the PMI's agrément extract (CSV) — parsing, validation, writing, fingerprints, JSON form, and the
  agrément's status and publication on a given day.
"""
