"""identity's rules: no Flask, no SQLAlchemy session, no kombu."""
