"""fiche-svc's rules: what of an agrément the public may see, and how names are matched. No I/O here."""
