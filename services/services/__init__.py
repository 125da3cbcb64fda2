"""Shared kernel of the assmat portal.

Only mechanisms live here (events, bus, outbox, inbox, settings, auth, web plumbing, test fixtures, the `assmat`
command). No business rule, and never an import of a service package.
"""
