"""The seam between what changes a fiche and the search's own structures (issue 8).

Whoever changes what a search filters or sorts on (the projection of agrément and place events, the owner's edits
of availability and planning, the structures) calls `refresh(session, owner_keys)` in the same transaction, so that
a search never sees one without the other. fiche.search owns what it keeps; this first version keeps nothing apart
from the tables it reads, so there is nothing to refresh yet.
"""
from __future__ import annotations

from typing import Iterable

from sqlalchemy.orm import Session


def refresh(session: Session, owner_keys: Iterable[str]) -> None:
    """Bring the search's structures in line with the current rows of these owners (no-op until fiche.search keeps
    structures of its own)."""
    del session, owner_keys
