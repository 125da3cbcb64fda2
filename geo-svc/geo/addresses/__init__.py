"""The address table: a BAN CSV extract (the published per-département `adresses-<dep>.csv[.gz]` files) loaded for
address-level geocoding without network (`commands.load_addresses`, command `load-addresses`)."""
