"""The captcha API: a new challenge, its image and its sound. The gateway proxies the image and sound under
/captcha/<id>.png|.wav; the answer is checked by the gates of the action it guards (`captcha_id`,
`captcha_answer` in that action's body)."""
from __future__ import annotations

from flask import Response, abort, jsonify

from identity.accounts.domain.refusals import Refusal
from identity.captcha.commands import PREFIX, new_challenge, read_challenge
from identity.captcha.domain import LIFETIME_SECONDS, MAX_RENDERINGS
from identity.captcha.render import render_png, render_wav
from identity.defences import gates
from identity.defences.throttle import Throttled
from identity.web import blueprint, current_container

bp = blueprint("captcha", __name__)


def _now() -> float:
    return current_container().clock().timestamp()


@bp.post("/api/captcha")
def create():
    gates.check("captcha", "any")
    challenge_id = new_challenge(current_container().store, _now())
    return jsonify(id=challenge_id, image=f"/api/captcha/{challenge_id}.png",
                   audio=f"/api/captcha/{challenge_id}.wav"), 201


def _challenge(challenge_id: str) -> tuple[str, str]:
    challenge = read_challenge(current_container().store, challenge_id, _now())
    if challenge is None:
        raise Refusal("captcha_not_found")
    return challenge


def _to_draw(challenge_id: str) -> tuple[str, str]:
    challenge = _challenge(challenge_id)
    drawn = current_container().store.hit(f"{PREFIX}drawn:{challenge_id}", LIFETIME_SECONDS, now=_now())
    if drawn > MAX_RENDERINGS:
        raise Throttled(LIFETIME_SECONDS)
    return challenge


@bp.get("/api/captcha/<challenge_id>.png")
def image(challenge_id: str):
    answer, seed = _to_draw(challenge_id)
    return Response(render_png(answer, seed), mimetype="image/png")


@bp.get("/api/captcha/<challenge_id>.wav")
def audio(challenge_id: str):
    answer, seed = _to_draw(challenge_id)
    return Response(render_wav(answer, seed), mimetype="audio/wav")


def test_hook_blueprint():
    """ONLY in ASSMAT_ENV=local or test (service.py registers it then, and this refuses otherwise): the answer of
    a challenge, so that end-to-end and browser tests can pass the captcha as a person would. In production the
    route does not exist at all."""
    hook = blueprint("captcha_test_hook", __name__)

    @hook.get("/api/captcha/<challenge_id>/answer")
    def answer(challenge_id: str):
        if not current_container().settings.is_local:
            abort(404)
        return jsonify(answer=_challenge(challenge_id)[0])

    return hook
