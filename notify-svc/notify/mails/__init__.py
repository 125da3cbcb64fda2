"""Outgoing mail: from an event to the message a person receives (domain: composers, templates, rendering) and
the reaction that sends it once and logs it (consumers)."""
