"""The captcha on the gateway's forms: identity makes and checks it; here its image and sound are proxied under
/captcha/<id>.png|.wav, and the forms get the block (image, "Écouter", "Nouvelle image", the answer field).

"Nouvelle image" is a submit button of the form itself (`captcha_reload`): it works without JavaScript and keeps
what was typed in the other fields. Every answer checked by identity spends the challenge, so any page shown again
after a submission carries a new one.
"""
from __future__ import annotations

import re

from flask import Blueprint, abort, make_response

from gateway.bootstrap import current
from gateway.clients import DownstreamError

bp = Blueprint("captcha", __name__)

CHALLENGE_ID = re.compile(r"[A-Za-z0-9_-]{10,64}")
ANSWER_FIELD, ID_FIELD, RELOAD_FIELD = "captcha_answer", "captcha_id", "captcha_reload"
MISSING_ANSWER = "Recopiez les caractères de l'image (ou écoutez-les)."


def new_challenge() -> dict:
    """A fresh challenge for a page: its id, and where the page finds its image and sound (the gateway's paths)."""
    challenge = current().clients.identity.new_captcha()
    challenge_id = challenge["id"]
    return {"id": challenge_id, "image": f"/captcha/{challenge_id}.png", "audio": f"/captcha/{challenge_id}.wav"}


def wants_reload(data) -> bool:
    return bool(data.get(RELOAD_FIELD))


def submitted(data) -> dict:
    """What identity checks: the challenge the page carried and what was typed."""
    return {"captcha_id": data.get(ID_FIELD, ""), "captcha_answer": data.get(ANSWER_FIELD, "").strip()}


def retry_message(error: DownstreamError) -> str:
    """identity's message for a lock, with how long it lasts in words people read."""
    if not error.retry_after:
        return error.message
    minutes = max(1, round(error.retry_after / 60))
    wait = "environ une minute" if minutes == 1 else (
        f"{minutes} minutes" if minutes < 90 else f"{round(minutes / 60)} heures")
    return f"{error.message} Vous pourrez réessayer dans {wait}."


def _media(challenge_id: str, kind: str):
    if not CHALLENGE_ID.fullmatch(challenge_id):
        abort(404)
    try:
        content, content_type = current().clients.identity.captcha_media(challenge_id, kind)
    except DownstreamError as error:
        if error.status == 404:
            abort(404)
        raise
    response = make_response(content)
    response.headers["Content-Type"] = "image/png" if kind == "png" else "audio/wav"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/captcha/<challenge_id>.png")
def image(challenge_id: str):
    return _media(challenge_id, "png")


@bp.get("/captcha/<challenge_id>.wav")
def audio(challenge_id: str):
    return _media(challenge_id, "wav")
