"""The structures extract's format and demo data (rules only)."""
