"""`python -m identity structures`: the MAMs and RPEs of the extract that have no account (or kept their former
address), and why. Exit code 1 when there is at least one, so a scheduled check can alert."""
from __future__ import annotations

from identity.bootstrap import bootstrap
from identity.settings import Settings
from identity.structures.queries import structures_in_conflict
from services.db import UnitOfWork

_WHY = {"email_taken": "son adresse e-mail est déjà celle d'un autre compte (assmat ou structure)",
        "no_email": "l'extrait ne donne pas d'adresse e-mail valable"}


def structures_command(settings: Settings, argv: list[str]) -> int:
    container = bootstrap(settings)
    try:
        with UnitOfWork(container.session_factory, read_only=True) as uow:
            rows = structures_in_conflict(uow)
    finally:
        container.engine.dispose()
    if not rows:
        print("Toutes les structures de l'extrait ont un compte à jour.")
        return 0
    for row in rows:
        print(f"{row['structure_key']} ({row['name']}) : {_WHY.get(row['conflict'], row['conflict'])}")
    return 1
