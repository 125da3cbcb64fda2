"""`python -m identity keys rotate | retire | list`: the signing keys' rotation, run by an operator (or a cron).

`rotate` adds a key (published at once, signing after one JWKS refresh interval); `retire`, run later (any time:
it removes only what no valid token can need), removes the keys replaced long enough ago. Neither needs a restart:
every identity process reads the table again within 30 s, and the services refresh the JWKS on their own.
"""
from __future__ import annotations

import argparse
import datetime as dt

from identity.bootstrap import bootstrap
from identity.settings import Settings


def keys_command(settings: Settings, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m identity keys",
                                     description="Clés de signature des jetons : rotation sans interruption")
    parser.add_argument("action", choices=("rotate", "retire", "list"),
                        help="rotate : ajoute une clé ; retire : retire les clés remplacées depuis assez longtemps ; "
                             "list : état de chaque clé")
    args = parser.parse_args(argv)
    keys = bootstrap(settings).keys
    if args.action == "rotate":
        added = keys.rotate()
        if len(keys.stored()) == 1:
            print(f"Première clé {added.kid} créée : elle signe dès maintenant.")
            return 0
        signs_from = added.created_at + keys.publish_ahead
        print(f"Nouvelle clé {added.kid} publiée ; elle signera à partir de {signs_from.isoformat()} "
              f"(après un intervalle de rafraîchissement JWKS). L'ancienne reste publiée : lancez "
              f"« keys retire » après le {(signs_from + keys.retire_after).isoformat()}.")
        return 0
    if args.action == "retire":
        retired = keys.retire()
        if retired:
            print(f"Clé(s) retirée(s) : {', '.join(retired)}.")
        else:
            print("Aucune clé à retirer : chaque clé publiée peut encore vérifier des jetons valides.")
        return 0
    for row in keys.describe(dt.datetime.now(dt.timezone.utc)):
        print(f"{row['kid']}  créée {row['created_at']}  {row['state']}")
    return 0
