"""Why a FranceConnect sign-in is refused: a stable code for programs and logs, a French message for the person,
an HTTP status for identity's API."""
from __future__ import annotations

_RETRY = " Vous pouvez réessayer, ou utiliser votre numéro de dossier et votre mot de passe."

REFUSALS: dict[str, tuple[int, str]] = {
    "franceconnect_disabled": (404, "La connexion avec FranceConnect n'est pas proposée sur ce portail."),
    "franceconnect_unavailable": (503, "FranceConnect ne répond pas pour le moment. Réessayez dans quelques "
                                       "minutes, ou utilisez votre numéro de dossier et votre mot de passe."),
    "invalid_purpose": (400, "Le parcours FranceConnect demandé n'existe pas."),
    "state_invalid": (400, "Cette connexion FranceConnect n'est plus valide (lien déjà utilisé, expiré ou venu "
                           "d'une autre fenêtre). Recommencez." + _RETRY),
    "code_invalid": (400, "FranceConnect n'a pas confirmé votre identité. Recommencez." + _RETRY),
    "token_invalid": (400, "La réponse de FranceConnect n'a pas pu être vérifiée : par sécurité, elle a été "
                           "refusée." + _RETRY),
    "token_expired": (400, "La réponse de FranceConnect a expiré avant d'arriver. Recommencez." + _RETRY),
    "nonce_invalid": (400, "La réponse de FranceConnect ne correspond pas à votre demande : par sécurité, elle a "
                           "été refusée. Recommencez."),
    "acr_insufficient": (400, "Le niveau de sécurité de la connexion FranceConnect est insuffisant (eIDAS 1 au "
                              "moins). Choisissez un autre compte dans FranceConnect."),
    "userinfo_invalid": (400, "Les informations transmises par FranceConnect n'ont pas pu être vérifiées : par "
                              "sécurité, elles ont été refusées." + _RETRY),
    "identity_mismatch": (400, "L'identité transmise par FranceConnect (nom de naissance et date de naissance) ne "
                               "correspond pas à celle de votre agrément. Votre compte n'a pas été relié à "
                               "FranceConnect. Vérifiez que vous êtes connecté·e à FranceConnect avec votre propre "
                               "identité, ou activez votre compte avec une adresse e-mail ; si votre état civil "
                               "a changé, signalez-le à votre circonscription de PMI."),
    "already_linked": (409, "Cette identité FranceConnect est déjà reliée à un autre compte du portail. "
                            "Contactez la PMI centrale."),
    "not_linked": (403, "Aucun compte du portail n'est encore relié à cette identité FranceConnect. Activez "
                        "d'abord votre compte (numéro de dossier PMI et date de naissance), puis choisissez "
                        "« S'identifier avec FranceConnect »."),
    "account_unavailable": (403, "Ce compte ne peut pas être utilisé pour le moment. Contactez la PMI centrale."),
}


class FranceConnectRefusal(Exception):
    """A refusal to show to the person (in French) and to log (its code and `detail`, never a token)."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.status, self.message = REFUSALS[code]
        self.detail = detail
