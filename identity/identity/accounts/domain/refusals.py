"""Why identity refuses a request: a stable code for programs and a French message for people.

The web layer only maps a code to an HTTP status; every message lives here, so the wording of the activation and
login pages can be reviewed in one place.
"""
from __future__ import annotations

MESSAGES = {
    "invalid_pmi_number": "Le numéro de dossier PMI comporte 6 chiffres.",
    "invalid_birth_date": "La date de naissance doit être une date valide au format AAAA-MM-JJ.",
    "activation_refused": "Ces informations ne permettent pas d'activer un compte. Vérifiez le numéro et la date de "
                          "naissance, ou contactez votre circonscription de PMI.",
    "ticket_invalid": "Votre session d'activation n'est pas valide, recommencez l'étape 1.",
    "ticket_expired": "Votre session d'activation a expiré, recommencez l'étape 1.",
    "invalid_email": "L'adresse e-mail n'est pas valide.",
    "weak_password": "Le mot de passe doit comporter au moins 12 caractères.",
    "common_password": "Ce mot de passe fait partie des plus courants, que les pirates essaient en premier : "
                       "choisissez-en un autre, par exemple une courte phrase.",
    "repetitive_password": "Le mot de passe ne peut pas être un même caractère répété : choisissez-en un autre.",
    "password_contains_identifier": "Le mot de passe ne doit contenir ni votre numéro de dossier, ni votre adresse "
                                    "e-mail.",
    "password_contains_birth_date": "Le mot de passe ne doit pas contenir votre date de naissance.",
    "password_contains_portal_words": "Le mot de passe ne doit pas reposer sur le nom du portail ou du département "
                                      "(assmat, PMI, ...) : choisissez-en un autre.",
    "password_too_long": "Le mot de passe ne peut pas dépasser 200 caractères.",
    "email_taken": "Cette adresse e-mail est déjà utilisée par un autre compte.",
    "account_already_active": "Ce compte est déjà activé : connectez-vous avec votre numéro de dossier et votre mot "
                              "de passe.",
    "conflict": "Une autre demande a modifié ce compte au même moment, réessayez.",
    "no_pending_activation": "Aucune activation n'attend de confirmation pour ce dossier : renseignez votre adresse "
                             "e-mail et votre mot de passe.",
    "link_invalid": "Ce lien n'est pas valide. Utilisez le lien du dernier e-mail reçu, ou recommencez "
                    "l'activation.",
    "link_used": "Ce lien a déjà été utilisé : votre compte est activé, connectez-vous.",
    "link_expired": "Ce lien a expiré. Recommencez l'activation pour recevoir un nouveau lien.",
    "invalid_credentials": "Identifiant ou mot de passe incorrect.",
    "email_not_confirmed": "Votre adresse e-mail n'est pas encore confirmée : cliquez sur le lien de l'e-mail que "
                           "nous vous avons envoyé (pensez à regarder dans les courriers indésirables). Sans cet "
                           "e-mail, recommencez l'activation pour en recevoir un nouveau.",
    "session_expired": "Votre session a expiré, reconnectez-vous.",
    "captcha_required": "Recopiez les caractères de l'image (ou écoutez-les) pour continuer.",
    "captcha_wrong": "Les caractères recopiés ne correspondent pas à l'image. Une nouvelle image vous est proposée : "
                     "recopiez-la.",
    "too_many_attempts": "Trop de tentatives. Par sécurité, patientez avant de réessayer, ou contactez votre "
                         "circonscription de PMI.",
    "captcha_not_found": "Cette image de vérification a expiré : demandez-en une nouvelle.",
    "forbidden": "Accès refusé.",
    "invalid_login": "Saisissez votre numéro de dossier PMI (6 chiffres) ou votre adresse e-mail.",
    "invalid_account_type": "Choisissez le type de compte : assistant·e maternel·le, MAM ou relais petite enfance "
                            "(RPE).",
    "account_disabled": "Ce compte est désactivé. Contactez votre service de PMI.",
    "reset_link_invalid": "Ce lien n'est pas valide. Utilisez le lien du dernier e-mail reçu, ou refaites une "
                          "demande de mot de passe oublié.",
    "reset_link_used": "Ce lien a déjà servi. Si vous n'avez pas changé votre mot de passe vous-même, refaites une "
                       "demande de mot de passe oublié.",
    "reset_link_expired": "Ce lien a expiré. Refaites une demande de mot de passe oublié pour en recevoir un "
                          "nouveau.",
    "staff_login_refused": "Adresse e-mail, mot de passe ou code de vérification incorrect. Si vous venez "
                           "d'utiliser ce code, attendez le suivant (il change toutes les 30 secondes).",
}


class Refusal(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code
        self.message = MESSAGES[code]

    def details(self) -> dict:
        """Fields added to the error object of the answer (a lock's retry_after)."""
        return {}
