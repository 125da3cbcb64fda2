"""`python -m identity staff create|disable|new-totp|password-link`: staff accounts are made by command (the back office
that will manage them is issue 7)."""
from __future__ import annotations

import argparse
import sys

from identity.accounts.domain import STAFF_ROLES
from identity.accounts.domain.credentials import normalize_email
from identity.accounts.domain.refusals import Refusal
from identity.bootstrap import bootstrap, utc_now
from identity.settings import Settings
from identity.staff import commands
from identity.staff.domain import StaffInputError
from services.db import UnitOfWork


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m identity staff",
                                     description="Comptes du personnel de la PMI (connexion : mot de passe + code TOTP)")
    verbs = parser.add_subparsers(dest="verb", required=True)
    create = verbs.add_parser("create", help="crée un compte ; affiche une seule fois le secret TOTP et un lien "
                                             "pour choisir le mot de passe")
    create.add_argument("--email", required=True)
    create.add_argument("--name", required=True, help="prénom et nom")
    create.add_argument("--role", action="append", required=True, choices=STAFF_ROLES,
                        help="rôle ; répétez l'option pour en donner plusieurs (le premier est le principal)")
    create.add_argument("--circonscription", action="append", default=[],
                        help="circonscription d'un agent (pmi_agent) ; répétez l'option pour en donner plusieurs")
    disable = verbs.add_parser("disable", help="désactive un compte et met fin à ses sessions")
    disable.add_argument("--email", required=True)
    totp = verbs.add_parser("new-totp", help="un nouveau secret TOTP (téléphone perdu) ; l'ancien ne marche plus et "
                                             "les sessions du compte sont terminées")
    totp.add_argument("--email", required=True)
    link = verbs.add_parser("password-link", help="un nouveau lien pour choisir le mot de passe (valable 24 h)")
    link.add_argument("--email", required=True)
    return parser


def staff_command(settings: Settings, argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        email = normalize_email(args.email)
    except Refusal as refusal:
        print(refusal.message, file=sys.stderr)
        return 2
    container = bootstrap(settings)
    try:
        with UnitOfWork(container.session_factory) as uow:
            if args.verb == "create":
                created = commands.create_staff(uow, settings, email, args.name, args.role, args.circonscription,
                                                utc_now())
                print(f"Compte créé pour {email} ({', '.join(dict.fromkeys(args.role))}).")
                print("\nSecret TOTP, affiché UNE SEULE FOIS : à ajouter dans l'application d'authentification de "
                      "la personne (Google Authenticator, FreeOTP, Aegis…), en QR code ou en le collant :")
                print(f"  {created['otpauth_uri']}")
                print(f"\nLien pour choisir le mot de passe (un seul usage, valable jusqu'au "
                      f"{created['link_expires_at'][:16].replace('T', ' à ')} UTC), à transmettre à la personne :")
                print(f"  {created['password_link']}")
            elif args.verb == "disable":
                commands.disable_staff(uow, email, utc_now())
                print(f"Compte {email} désactivé ; ses sessions sont terminées.")
            elif args.verb == "new-totp":
                uri = commands.new_staff_totp(uow, email, utc_now())
                print("Nouveau secret TOTP, affiché UNE SEULE FOIS (l'ancien ne fonctionne plus) :")
                print(f"  {uri}")
            else:
                link = commands.staff_password_link(uow, settings, email, utc_now())
                print(f"Lien pour choisir le mot de passe (un seul usage, valable 24 h) :\n  {link}")
    except StaffInputError as error:
        print(str(error), file=sys.stderr)
        return 1
    finally:
        container.engine.dispose()
    return 0
