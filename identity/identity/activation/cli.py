"""`python -m identity complete-registration <pmi_number> [--email ADDRESS] [--by NAME]`: PMI central finishes a
registration by hand (the mail never arrived, or she has no computer). Audited with who ran it."""
from __future__ import annotations

import argparse
import getpass
import sys

from identity.accounts.domain.credentials import parse_pmi_number
from identity.accounts.domain.refusals import Refusal
from identity.activation.commands import complete_registration
from services.db import UnitOfWork


def complete_registration_command(settings, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m identity complete-registration",
        description="Termine à la main l'inscription d'une assmat : active son compte en attente, ou le crée "
                    "(sans mot de passe : elle le choisira par « mot de passe oublié »).")
    parser.add_argument("pmi_number", help="numéro de dossier PMI (6 chiffres)")
    parser.add_argument("--email", help="adresse e-mail à enregistrer (sinon : celle du compte en attente)")
    parser.add_argument("--by", default=None, help="qui fait l'opération (par défaut : l'utilisateur système)")
    args = parser.parse_args(argv)
    from identity.bootstrap import bootstrap
    container = bootstrap(settings)
    operator = args.by or getpass.getuser()
    try:
        pmi_number = parse_pmi_number(args.pmi_number)
        with UnitOfWork(container.session_factory) as uow:
            account = complete_registration(uow, pmi_number, args.email, container.clock())
    except Refusal as refusal:
        container.throttle.record("complete_registration", "failure", identifier=args.pmi_number, ip="cli",
                                  detail={"reason": refusal.code, "by": operator})
        print(f"Refusé : {refusal.message}", file=sys.stderr)
        return 1
    container.throttle.record("complete_registration", "success", identifier=pmi_number, ip="cli",
                              account_id=account["id"], detail={"by": operator, "created": account["created"]})
    state = "créé" if account["created"] else "activé"
    print(f"Compte {state} pour {account['display_name']} ({pmi_number}), adresse : {account['email'] or 'aucune'}.")
    if not account["has_password"]:
        print("Elle choisit son mot de passe par « mot de passe oublié » sur la page de connexion.")
    return 0
