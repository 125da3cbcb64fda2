"""The address book: who to write to, projected from identity's events."""
