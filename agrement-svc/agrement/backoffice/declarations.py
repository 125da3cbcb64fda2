"""The back office's list of flagged declarations (late ones, R421-39's 8 days; over capacity, L421-4), read
through a query interface that the contracts capability fills (issue 7 is built in two halves).

A source is `source(session, circonscriptions) -> list[dict]`, `circonscriptions` None meaning all; each row:
`kind` ("late", "over_capacity" or "exceptional_over_capacity"), `pmi_number`, `first_name`, `last_name`,
`circonscription`, `at` (ISO date or datetime), `summary` (French, one line). The contracts capability registers
its query with `register(...)` when its module loads; until then the list is empty and the page says that no
declaration is flagged, which is then true: no declaration exists.
"""
from __future__ import annotations

from typing import Callable

DeclarationSource = Callable[[object, "tuple[str, ...] | None"], list]
KINDS = {"late": "Déclaration tardive (plus de 8 jours, R421-39)", "over_capacity": "Dépassement de capacité (L421-4)",
         "exceptional_over_capacity": "Accueil exceptionnel en surnombre (L421-4 III)"}
_SOURCES: list[DeclarationSource] = []


def register(source: DeclarationSource) -> DeclarationSource:
    if source not in _SOURCES:
        _SOURCES.append(source)
    return source


def unregister(source: DeclarationSource) -> None:
    if source in _SOURCES:
        _SOURCES.remove(source)


def flagged(session, circonscriptions: tuple[str, ...] | None) -> list[dict]:
    """Every source's rows within the scope (checked again here: a source that forgets the scope leaks nothing),
    newest first, with the kind's French label."""
    rows = []
    for source in _SOURCES:
        for row in source(session, circonscriptions):
            if circonscriptions is None or row.get("circonscription") in circonscriptions:
                rows.append({**row, "kind_label": KINDS.get(row.get("kind"), row.get("kind"))})
    return sorted(rows, key=lambda row: str(row.get("at") or ""), reverse=True)
