"""fiche-svc's rules: what of an agrément the public may see, and when. No I/O here."""
