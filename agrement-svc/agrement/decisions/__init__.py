"""PMI staff decisions on an agrément in the back office (modify, suspend, withdraw, temporary stop, resumption)."""
